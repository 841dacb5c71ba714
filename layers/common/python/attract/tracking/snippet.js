/* Attract careers-site snippet (GET /t.js). No dependencies, no cookies of its own.
 * Keeps tc_vid, tc_click, ad click ids, the latest utm_*, the latest invitation token (tc_inv, sent as
 * invite_token) and the first external referrer in first-party localStorage, so attribution survives
 * browsing several pages before joining, and sends them with the join. Forms marked data-attract-join are submitted as JSON to POST /joins;
 * other pages can call Attract.join({email, name, consent, ...}) or read Attract.fields().
 * An ad whose final URL is this page carries tc_link=<link code>: the snippet records that click once through
 * GET /l/<code> (as /r/ would have), keeps the signed ids it answers, and removes tc_link from the address bar
 * so that a reload or a shared URL records nothing more. Attract.ready settles once that is done.
 * A join answers 202 {"status": "pending"} for every address: the form's data-attract-state becomes
 * "pending" (tell the person to check their email), "rejected" on a 4xx (the body names each field),
 * "error" when the request failed. Every outcome fires an `attract:result` event with {status, body}. */
(function () {
  "use strict";
  var KEY = "attract:v1";
  var MAX_AGE_MS = 90 * 24 * 3600 * 1000;
  var CLICK_PARAMS = ["gclid", "gbraid", "wbraid", "fbclid", "msclkid", "li_fat_id"];
  var UTM_PARAMS = ["utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term"];
  var VISITOR = /^[A-Za-z0-9_-]{16,64}$/;
  var INVITE = /^[A-Za-z0-9_.-]{16,512}$/;  // the join's invite_token rule: anything else would make it a 422
  var LINK = /^[A-Za-z0-9]{6,16}$/;  // a tracked link's code: anything else is a 404 not worth a request
  var script = document.currentScript;
  var api = script && script.src ? script.src.replace(/\/t\.js(\?.*)?$/, "") : "";

  function load() {
    try {
      var state = JSON.parse(window.localStorage.getItem(KEY) || "{}");
      return state.updated && Date.now() - state.updated < MAX_AGE_MS ? state : {};
    } catch (e) { return {}; }
  }
  function save(state) {
    state.updated = Date.now();
    try { window.localStorage.setItem(KEY, JSON.stringify(state)); } catch (e) { /* private mode: keep in memory */ }
  }
  function remember(state, kind, value) {
    if (!value || value.length > 512) { return; }
    var list = state.click_ids[kind] = state.click_ids[kind] || [];
    if (list.indexOf(value) < 0) { list.push(value); }
    if (list.length > 20) { list.shift(); }
  }

  var state = load();
  state.click_ids = state.click_ids || {};
  var query = new URLSearchParams(window.location.search);
  var vid = query.get("tc_vid");
  // Only the redirect's hand-over is adopted: tc_vid with its tc_click, never on an ad landing (/l/ answers the ids
  // there). A bare tc_vid in a URL can be anyone's: kept, it would credit that person's path to this join.
  if (vid && VISITOR.test(vid) && VISITOR.test(query.get("tc_click") || "") && query.get("tc_link") === null) {
    state.visitor_id = vid;
  }
  var invite = query.get("tc_inv");
  if (invite && INVITE.test(invite)) { state.invite_token = invite; }
  remember(state, "tc_click", query.get("tc_click"));
  CLICK_PARAMS.forEach(function (name) { remember(state, name, query.get(name)); });
  var utm = {};
  UTM_PARAMS.forEach(function (name) { if (query.get(name)) { utm[name] = query.get(name).slice(0, 100); } });
  if (Object.keys(utm).length) { state.utm = utm; }
  try {
    if (!state.referrer && document.referrer && new URL(document.referrer).host !== window.location.host) {
      state.referrer = document.referrer.split("?")[0].split("#")[0];
    }
  } catch (e) { /* malformed referrer */ }
  save(state);
  var landing = land(query.get("tc_link"));

  function paramName(pair) {
    var raw = pair.split("=")[0];
    try { return decodeURIComponent(raw.replace(/\+/g, " ")); } catch (e) { return raw; }
  }
  function forget(param) {
    try {
      var kept = window.location.search.slice(1).split("&").filter(function (pair) { return pair && paramName(pair) !== param; });
      window.history.replaceState(window.history.state, "",
        window.location.pathname + (kept.length ? "?" + kept.join("&") : "") + window.location.hash);
    } catch (e) { /* a sandboxed frame may refuse: the server still counts the ad click once */ }
  }
  function land(code) {
    if (code === null) { return Promise.resolve(); }
    forget("tc_link");
    // Arrived through /r/ as well (tc_click in the URL): that click is recorded already.
    if (!LINK.test(code) || query.get("tc_click") || !window.fetch) { return Promise.resolve(); }
    var params = new URLSearchParams();
    CLICK_PARAMS.forEach(function (name) {
      var value = query.get(name);
      if (value && value.length <= 512) { params.set(name, value); }
    });
    Object.keys(utm).forEach(function (name) { params.set(name, utm[name]); });
    // Where the person came from (the ad's page), as the Referer of a click on /r/ would say; no Referer of ours.
    if (document.referrer) { params.set("ref", document.referrer.split("?")[0].split("#")[0].slice(0, 1024)); }
    return fetch(api + "/l/" + code + "?" + params, {
      credentials: "omit", referrerPolicy: "no-referrer", keepalive: true
    }).then(function (response) {
      return response.ok ? response.json() : {};
    }).then(function (ids) {
      if (ids && ids.tc_vid && VISITOR.test(ids.tc_vid)) { state.visitor_id = ids.tc_vid; }
      remember(state, "tc_click", ids && ids.tc_click);
      save(state);
    })["catch"](function () { /* offline or blocked: the join still carries the ad's click ids */ });
  }

  function fields() {
    var out = {};
    if (state.visitor_id) { out.visitor_id = state.visitor_id; }
    if (Object.keys(state.click_ids).length) { out.click_ids = state.click_ids; }
    if (state.referrer) { out.referrer = state.referrer; }
    if (state.invite_token) { out.invite_token = state.invite_token; }
    Object.keys(state.utm || {}).forEach(function (name) { out[name] = state.utm[name]; });
    return out;
  }

  function join(person) {
    // A join right after landing waits for the landing's ids: its tc_click is what credits the ad.
    return landing.then(function () {
      var body = Object.assign({}, fields(), person);
      return fetch(api + "/joins", {
        method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), credentials: "omit"
      });
    }).then(function (response) {
      return response.json().then(function (json) { return { status: response.status, body: json }; });
    });
  }

  function bind(form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var data = new FormData(form);
      var person = { email: data.get("email") || "", name: data.get("name") || "", consent: data.get("consent") !== null };
      if (data.get("consent_text_version")) { person.consent_text_version = data.get("consent_text_version"); }
      // Its own checkbox: may the ad platform that brought the person hear of the join (hashed)?
      if (form.elements.namedItem("ads_consent")) { person.ads_consent = data.get("ads_consent") !== null; }
      if (data.get("location")) { person.location = data.get("location"); }
      if (data.get("skills")) {
        person.skills = String(data.get("skills")).split(",").map(function (s) { return s.trim(); }).filter(Boolean);
      }
      form.setAttribute("data-attract-state", "sending");
      join(person).then(function (result) {
        // 202: a confirmation email is on its way ("check your email"); the join counts once confirmed.
        form.setAttribute("data-attract-state", result.status < 300 ? "pending" : "rejected");
        form.dispatchEvent(new CustomEvent("attract:result", { detail: result, bubbles: true }));
      }, function () { form.setAttribute("data-attract-state", "error"); });
    });
  }

  function bindAll() { Array.prototype.forEach.call(document.querySelectorAll("form[data-attract-join]"), bind); }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", bindAll); } else { bindAll(); }
  window.Attract = { fields: fields, join: join, ready: landing };
})();
