/* Attract careers-site snippet (GET /t.js). No dependencies, no cookies of its own.
 * Keeps tc_vid, tc_click, ad click ids, the latest utm_*, the latest invitation token (tc_inv, sent as
 * invite_token) and the first external referrer in first-party localStorage, so attribution survives
 * browsing several pages before joining, and sends them with the join. Forms marked data-attract-join are submitted as JSON to POST /joins;
 * other pages can call Attract.join({email, name, consent, ...}) or read Attract.fields().
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
  if (vid && VISITOR.test(vid)) { state.visitor_id = vid; }
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
    var body = Object.assign({}, fields(), person);
    return fetch(api + "/joins", {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), credentials: "omit"
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
  window.Attract = { fields: fields, join: join };
})();
