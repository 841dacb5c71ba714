// The recruiters' dashboard. Signs in through the Cognito hosted UI (authorization code + PKCE, RFC 7636),
// then reads the API with the access token like any client.
//
// Safety rules (docs/security.md, "Dashboard"): every value from the API reaches the page as text
// (textContent / text nodes, never innerHTML: Trusted Types would refuse it anyway), the token lives in this
// tab's sessionStorage only, and the page talks to its own origin and the sign-in origin only (CSP).
"use strict";

(function () {
  const root = document.documentElement;
  const SIGN_IN = root.dataset.signIn;
  const CLIENT_ID = root.dataset.clientId;
  const REDIRECT_URI = location.origin + location.pathname;
  const TOKEN_KEY = "attract.token";
  const PKCE_KEY = "attract.pkce";
  const DAY_MS = 86400000;
  const shown = {}; // panel id -> the API URL (path + query) of what it shows: its CSV is that URL's format=csv

  // ------------------------------------------------------------------ DOM helpers (text only)
  function $(id) { return document.getElementById(id); }

  function el(tag, props, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else node.setAttribute(key, value);
    }
    for (const child of children || []) node.append(child); // a string becomes a text node
    return node;
  }

  function setStatus(text, isError) {
    const status = $("status");
    status.textContent = text;
    status.className = isError ? "error" : "muted";
  }

  function panelBody(id) { return $(id).querySelector(".body"); }

  function empty(id, text) {
    panelBody(id).replaceChildren(el("p", {class: "empty", text: text}));
  }

  // ------------------------------------------------------------------ formatting
  function num(value) {
    if (value === null || value === undefined) return "—";
    return Number.isInteger(value) ? String(value) : Number(value).toFixed(2);
  }

  function rate(value) {
    return value === null || value === undefined ? "—" : (value * 100).toFixed(1) + "%";
  }

  function money(spend, field) {
    // One line per currency: amounts in two currencies are never added up.
    const lines = (spend || []).filter(function (s) { return s[field] !== null && s[field] !== undefined; })
      .map(function (s) { return s[field] + " " + s.currency; });
    return lines.length ? lines.join("\n") : "—";
  }

  function isoDay(date) { return date.toISOString().slice(0, 10); }

  // ------------------------------------------------------------------ sign-in (code + PKCE)
  function base64url(bytes) {
    let text = "";
    for (const byte of new Uint8Array(bytes)) text += String.fromCharCode(byte);
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function randomString(size) { return base64url(crypto.getRandomValues(new Uint8Array(size))); }

  async function signIn() {
    const verifier = randomString(48);
    const state = randomString(24);
    const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
    sessionStorage.setItem(PKCE_KEY, JSON.stringify({verifier: verifier, state: state}));
    const query = new URLSearchParams({
      response_type: "code", client_id: CLIENT_ID, redirect_uri: REDIRECT_URI, scope: "openid email",
      state: state, code_challenge: challenge, code_challenge_method: "S256",
    });
    location.assign(SIGN_IN + "/oauth2/authorize?" + query.toString());
  }

  async function finishSignIn(params) {
    const saved = JSON.parse(sessionStorage.getItem(PKCE_KEY) || "null");
    sessionStorage.removeItem(PKCE_KEY);
    history.replaceState(null, "", location.pathname); // the code is good once: keep it out of the address bar
    if (!saved || saved.state !== params.get("state")) throw new Error("The sign-in answer does not match this tab's request");
    const answer = await fetch(SIGN_IN + "/oauth2/token", {
      method: "POST",
      headers: {"Content-Type": "application/x-www-form-urlencoded"},
      body: new URLSearchParams({
        grant_type: "authorization_code", client_id: CLIENT_ID, code: params.get("code"),
        redirect_uri: REDIRECT_URI, code_verifier: saved.verifier,
      }),
    });
    if (!answer.ok) throw new Error("Sign-in failed (" + answer.status + ")");
    const tokens = await answer.json();
    sessionStorage.setItem(TOKEN_KEY, JSON.stringify({
      access_token: tokens.access_token, expires_at: Date.now() + 1000 * (tokens.expires_in || 3600),
    }));
  }

  function token() {
    const saved = JSON.parse(sessionStorage.getItem(TOKEN_KEY) || "null");
    return saved && saved.expires_at > Date.now() + 30000 ? saved.access_token : null;
  }

  function signOut() {
    sessionStorage.removeItem(TOKEN_KEY);
    const query = new URLSearchParams({client_id: CLIENT_ID, logout_uri: REDIRECT_URI});
    location.assign(SIGN_IN + "/logout?" + query.toString());
  }

  function claims(accessToken) {
    try {
      const part = accessToken.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(atob(part));
    } catch (error) {
      return {};
    }
  }

  // ------------------------------------------------------------------ API
  class Missing extends Error {}

  async function api(path, accept) {
    const answer = await fetch(path, {headers: {Authorization: "Bearer " + token(), Accept: accept || "application/json"}});
    if (answer.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      showSignedOut("Your session ended: sign in again.");
      throw new Error("signed out");
    }
    // A route another part of the system has not deployed yet, or a report option it does not know yet.
    if (answer.status === 404 || answer.status === 422) throw new Missing(String(answer.status));
    if (!answer.ok) throw new Error(path.split("?")[0] + " answered " + answer.status);
    if (accept !== "text/csv") return answer.json();
    // A route that does not know format=csv yet answers JSON: never save that as a .csv file.
    if (!(answer.headers.get("Content-Type") || "").startsWith("text/csv")) throw new Missing("no csv");
    return answer.blob();
  }

  function controls() {
    return {from: $("from").value, to: $("to").value, model: $("model").value, profile: $("profile").value};
  }

  function reportQuery(extra) {
    const c = controls();
    const query = new URLSearchParams({from: c.from, to: c.to, model: c.model});
    if (c.profile) query.set("profile", c.profile);
    for (const [key, value] of Object.entries(extra || {})) query.set(key, value);
    return query.toString();
  }

  // ------------------------------------------------------------------ panels
  function table(columns, rows) {
    const head = el("tr", {}, columns.map(function (c) { return el("th", {class: c.num ? "num" : "", text: c.label}); }));
    const body = rows.map(function (row) {
      return el("tr", {}, columns.map(function (c) {
        return el("td", {class: c.num ? "num" : "", "data-field": c.field, text: c.value(row)});
      }));
    });
    return el("table", {}, [el("thead", {}, [head]), el("tbody", {}, body)]);
  }

  let chart = null;

  async function overTime() {
    const path = "/reports/attribution?" + reportQuery({group_by: "day", limit: "500"});
    let report;
    try {
      report = await api(path);
    } catch (error) {
      if (!(error instanceof Missing)) throw error;
      delete shown["over-time"];
      $("over-time-chart").replaceChildren();
      return empty("over-time", "Not available yet: the report by day is not deployed.");
    }
    shown["over-time"] = path;
    const rows = (report.rows || []).filter(function (r) { return /^\d{4}-\d{2}-\d{2}$/.test(r.key); })
      .sort(function (a, b) { return a.key < b.key ? -1 : 1; });
    if (!rows.length) {
      $("over-time-chart").replaceChildren();
      return empty("over-time", "No joins in these days.");
    }
    const hasRelevant = rows.some(function (r) { return r.relevant_joins !== undefined; });
    const columns = [
      {label: "Day", field: "key", value: function (r) { return r.key; }},
      {label: "Joins", field: "joins", num: true, value: function (r) { return num(r.joins); }},
      {label: "Relevant joins", field: "relevant_joins", num: true, value: function (r) { return num(r.relevant_joins); }},
    ];
    panelBody("over-time").replaceChildren(table(columns, rows));
    const data = [
      rows.map(function (r) { return Date.parse(r.key + "T00:00:00Z") / 1000; }),
      rows.map(function (r) { return r.joins; }),
    ];
    const series = [{}, {label: "Joins", stroke: "#1f5f8b", width: 2}];
    if (hasRelevant) {
      data.push(rows.map(function (r) { return r.relevant_joins === undefined ? null : r.relevant_joins; }));
      series.push({label: "Relevant joins", stroke: "#c2571a", width: 2});
    }
    if (chart) chart.destroy();
    const target = $("over-time-chart");
    target.replaceChildren();
    chart = new window.uPlot({width: Math.max(320, target.clientWidth || 800), height: 260, series: series,
      scales: {x: {time: true}}}, data, target);
  }

  async function byDimension(panel, groupBy, label) {
    const path = "/reports/attribution?" + reportQuery({group_by: groupBy});
    let report;
    try {
      report = await api(path);
    } catch (error) {
      if (!(error instanceof Missing)) throw error;
      delete shown[panel];
      return empty(panel, "Not available yet: the attribution report is not deployed.");
    }
    shown[panel] = path;
    const rows = report.rows || [];
    if (!rows.length) return empty(panel, "No joins in these days.");
    const columns = [
      {label: label, field: "key", value: function (r) { return r.key; }},
      {label: "Joins", field: "joins", num: true, value: function (r) { return num(r.joins); }},
      {label: "Relevant joins", field: "relevant_joins", num: true, value: function (r) { return num(r.relevant_joins); }},
      {label: "Join rate", field: "join_rate", num: true, value: function (r) { return rate(r.join_rate); }},
      {label: "Relevance rate", field: "relevance_rate", num: true, value: function (r) { return rate(r.relevance_rate); }},
      {label: "Spend", field: "spend", num: true, value: function (r) { return money(r.spend, "amount"); }},
      {label: "Cost per join", field: "cost_per_join", num: true, value: function (r) { return money(r.spend, "cost_per_join"); }},
      {label: "Cost per relevant join", field: "cost_per_relevant_join", num: true,
        value: function (r) { return money(r.spend, "cost_per_relevant_join"); }},
    ];
    panelBody(panel).replaceChildren(table(columns, rows));
  }

  async function funnels() {
    const c = controls();
    const query = new URLSearchParams({from: c.from, to: c.to});
    if (c.profile) query.set("profile", c.profile);
    const path = "/reports/funnels?" + query.toString();
    let report;
    try {
      report = await api(path);
    } catch (error) {
      if (!(error instanceof Missing)) throw error;
      delete shown.funnels;
      return empty("funnels", "Not available yet: the funnels report is not deployed.");
    }
    shown.funnels = path;
    const campaigns = report.campaigns || [];
    if (!campaigns.length) return empty("funnels", "No campaign ran in these days.");
    const list = campaigns.map(function (campaign) {
      const steps = (campaign.steps || []).map(function (step) {
        return el("li", {}, [el("span", {class: "step", text: step.name}), " ", el("strong", {text: num(step.count)})]);
      });
      return el("div", {class: "funnel"}, [
        el("h3", {text: campaign.campaign}),
        el("p", {class: "muted", text: campaign.kind + " · " + campaign.channel}),
        el("ol", {}, steps),
      ]);
    });
    panelBody("funnels").replaceChildren.apply(panelBody("funnels"), list);
  }

  async function profiles() {
    let answer;
    try {
      answer = await api("/profiles");
    } catch (error) {
      if (!(error instanceof Missing)) throw error;
      return null;
    }
    const list = Array.isArray(answer) ? answer : (answer.profiles || answer.items || []);
    const select = $("profile");
    const chosen = select.value;
    select.replaceChildren(el("option", {value: "", text: "any profile"}));
    for (const profile of list) select.append(el("option", {value: profile.id, text: profile.name}));
    select.value = list.some(function (p) { return p.id === chosen; }) ? chosen : "";
    return list;
  }

  let membersCursor = {profile: "", cursor: ""};

  async function overlap(list) {
    if (list === null) {
      delete shown.overlap;
      return empty("overlap", "Not available yet: target profiles are not deployed.");
    }
    const id = $("profile").value;
    if (!list.length) return empty("overlap", "No target profile yet: create one with POST /profiles.");
    if (!id) {
      // Every profile, with a button to open its member list (the same as choosing it above).
      delete shown.overlap;
      const columns = [
        {label: "Profile", field: "name", value: function (p) { return p.name; }},
        {label: "Minimum score", field: "min_score", num: true, value: function (p) { return num(p.min_score); }},
        {label: "Scoring", field: "rescoring", value: function (p) {
          const r = p.rescoring;
          return r ? r.status + (r.total ? " (" + r.scored + " of " + r.total + ")" : "") : "—";
        }},
      ];
      const listed = table(columns, list);
      listed.querySelectorAll("tbody tr").forEach(function (row, index) {
        const open = el("button", {type: "button", text: "Members"});
        open.addEventListener("click", function () { $("profile").value = list[index].id; refresh(); });
        row.append(el("td", {}, [open]));
      });
      return panelBody("overlap").replaceChildren(
        el("p", {class: "muted", text: "Choose a profile to see its relevant members, best first."}), listed);
    }
    // One page of 50 (the API's largest); "Next" follows its opaque cursor, and the CSV download is the page shown.
    const path = "/profiles/" + encodeURIComponent(id) + "/members?limit=50" +
      (membersCursor.profile === id && membersCursor.cursor ? "&cursor=" + encodeURIComponent(membersCursor.cursor) : "");
    let answer;
    try {
      answer = await api(path);
    } catch (error) {
      if (!(error instanceof Missing)) throw error;
      delete shown.overlap;
      return empty("overlap", "Not available yet: the member list is not deployed.");
    }
    shown.overlap = path;
    const members = answer.members || [];
    if (!members.length) return empty("overlap", "No relevant member yet for this profile.");
    const touch = function (t) { return t ? t.channel + " / " + t.campaign : "—"; };
    const columns = [
      {label: "Name", field: "name", value: function (m) { return m.name || ""; }},
      {label: "Email", field: "email", value: function (m) { return m.email || ""; }},
      {label: "Score", field: "score", num: true, value: function (m) { return num(m.score); }},
      {label: "Skills", field: "skills", value: function (m) { return (m.skills || []).join(", "); }},
      {label: "Place", field: "place", value: function (m) { return m.place || "—"; }},
      {label: "Joined", field: "joined_at", value: function (m) { return (m.joined_at || "").slice(0, 10); }},
      {label: "First touch", field: "first_touch", value: function (m) { return touch(m.first_touch); }},
      {label: "Last touch", field: "last_touch", value: function (m) { return touch(m.last_touch); }},
    ];
    const parts = [table(columns, members)];
    if (answer.next_cursor) {
      const next = el("button", {type: "button", text: "Next 50 members"});
      next.addEventListener("click", function () {
        membersCursor = {profile: id, cursor: answer.next_cursor};
        overlap(list);
      });
      parts.push(el("p", {class: "muted", text: "50 members a page, best first."}), next);
    }
    panelBody("overlap").replaceChildren.apply(panelBody("overlap"), parts);
  }

  async function refresh() {
    if (controls().from > controls().to) return setStatus("The first day must not be after the last day.", true);
    setStatus("Loading…");
    try {
      const list = await profiles();
      await Promise.all([overTime(), byDimension("by-channel", "channel", "Channel"),
        byDimension("by-campaign", "campaign", "Campaign"), funnels(), overlap(list)]);
      root.dataset.loaded = String(Date.now());
      setStatus("Days " + controls().from + " to " + controls().to + " (UTC), model " + controls().model.replace(/_/g, " ") + ".");
    } catch (error) {
      if (error.message !== "signed out") setStatus(error.message, true);
    }
  }

  async function downloadCsv(panel) {
    const path = shown[panel];
    if (!path) return setStatus("Nothing to download here.", true);
    try {
      const separator = path.includes("?") ? "&" : "?";
      const blob = await api(path + separator + "format=csv", "text/csv");
      const link = el("a", {download: panel + "-" + controls().from + "-" + controls().to + ".csv"});
      link.href = URL.createObjectURL(blob);
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(function () { URL.revokeObjectURL(link.href); }, 10000);
    } catch (error) {
      if (error.message !== "signed out") setStatus(error instanceof Missing ? "No CSV for this panel yet." : error.message, true);
    }
  }

  // ------------------------------------------------------------------ start
  function showSignedOut(message) {
    $("app").hidden = true;
    $("sign-out").hidden = true;
    $("signed-out").hidden = false;
    $("who").textContent = "";
    setStatus(message || "", Boolean(message));
  }

  function showSignedIn() {
    const who = claims(token());
    $("signed-out").hidden = true;
    $("app").hidden = false;
    $("sign-out").hidden = false;
    $("who").textContent = "Signed in" + (who["cognito:groups"] ? " (" + [].concat(who["cognito:groups"]).join(", ") + ")" : "");
    const today = new Date();
    $("to").value = isoDay(today);
    $("from").value = isoDay(new Date(today.getTime() - 29 * DAY_MS));
    refresh();
  }

  async function start() {
    $("sign-in").addEventListener("click", signIn);
    $("sign-out").addEventListener("click", signOut);
    $("refresh").addEventListener("click", refresh);
    $("model").addEventListener("change", refresh);
    $("profile").addEventListener("change", function () { membersCursor = {profile: "", cursor: ""}; refresh(); });
    for (const button of document.querySelectorAll("[data-csv]")) {
      button.addEventListener("click", function () { downloadCsv(button.dataset.csv); });
    }
    const params = new URLSearchParams(location.search);
    if (params.has("error")) {
      history.replaceState(null, "", location.pathname);
      return showSignedOut("Sign-in was refused: " + params.get("error"));
    }
    if (params.has("code")) {
      try {
        await finishSignIn(params);
      } catch (error) {
        return showSignedOut(error.message);
      }
    }
    return token() ? showSignedIn() : showSignedOut();
  }

  document.addEventListener("DOMContentLoaded", start);
})();
