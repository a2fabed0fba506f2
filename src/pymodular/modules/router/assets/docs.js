// The interactive docs page: reads the OpenAPI document and lets a person try each
// operation. Plain DOM (text nodes only, no HTML parsing of answers), no dependencies.
"use strict";
(function () {
  const main = document.getElementById("operations");
  const METHODS = ["get", "post", "put", "patch", "delete", "head", "options"];
  let spec = null;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function resolve(schema, seen) {
    if (!schema || typeof schema !== "object") return schema || {};
    if (schema.$ref) {
      const name = schema.$ref.split("/").pop();
      seen = seen || new Set();
      if (seen.has(name)) return {};
      const next = new Set(seen); next.add(name);
      return resolve((spec.components && spec.components.schemas || {})[name] || {}, next);
    }
    return schema;
  }

  // A plausible value for a schema: its example, default, first enum value, or a stub.
  function example(schema, depth, seen) {
    seen = seen || new Set();
    if (schema && schema.$ref) {
      const name = schema.$ref.split("/").pop();
      if (seen.has(name) || depth > 6) return null;
      const next = new Set(seen); next.add(name);
      return example(resolve(schema), depth + 1, next);
    }
    schema = schema || {};
    if (schema.examples && schema.examples.length) return schema.examples[0];
    if ("example" in schema) return schema.example;
    if ("default" in schema) return schema.default;
    if ("const" in schema) return schema.const;
    if (schema.enum && schema.enum.length) return schema.enum[0];
    const options = schema.anyOf || schema.oneOf;
    if (options) {
      const chosen = options.find((s) => s.type !== "null") || options[0];
      return example(chosen, depth + 1, seen);
    }
    if (schema.allOf && schema.allOf.length) return example(schema.allOf[0], depth + 1, seen);
    const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type;
    switch (type) {
      case "object": {
        const out = {};
        for (const [key, value] of Object.entries(schema.properties || {})) {
          out[key] = example(value, depth + 1, seen);
        }
        return out;
      }
      case "array": return depth > 6 ? [] : [example(schema.items || {}, depth + 1, seen)];
      case "integer": return schema.minimum !== undefined ? schema.minimum : 0;
      case "number": return schema.minimum !== undefined ? schema.minimum : 0;
      case "boolean": return false;
      case "string":
        if (schema.format === "uuid") return "00000000-0000-0000-0000-000000000000";
        if (schema.format === "date-time") return new Date().toISOString();
        if (schema.format === "date") return new Date().toISOString().slice(0, 10);
        return "x".repeat(Math.max(schema.minLength || 0, 1));
      default: return null;
    }
  }

  function typeLabel(schema) {
    const s = resolve(schema);
    if (schema && schema.$ref) return schema.$ref.split("/").pop();
    if (s.anyOf) return s.anyOf.map(typeLabel).join(" | ");
    if (s.type === "array") return typeLabel(s.items || {}) + "[]";
    if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(" | ");
    return s.type ? (Array.isArray(s.type) ? s.type.join(" | ") : s.type) + (s.format ? ` (${s.format})` : "") : "any";
  }

  function schemaBlock(schema) {
    return el("pre", {}, JSON.stringify(example(schema, 0), null, 2));
  }

  function operationView(path, method, op) {
    const inputs = [];
    const body = el("div", { class: "body" });
    if (op.description) body.append(el("p", {}, op.description));
    const params = op.parameters || [];
    if (params.length) {
      const rows = params.map((p) => {
        const schema = p.schema || {};
        const input = el("input", { "aria-label": p.name, placeholder: typeLabel(schema) });
        const guess = "default" in schema ? schema.default : (p.required ? example(schema, 0) : undefined);
        if (guess !== undefined && guess !== null) input.value = Array.isArray(guess) ? guess.join(",") : String(guess);
        inputs.push({ param: p, input });
        return el("tr", {},
          el("td", {}, el("code", {}, p.name), p.required ? el("span", { class: "req" }, " *") : null),
          el("td", {}, p.in), el("td", {}, typeLabel(schema)),
          el("td", {}, p.description || ""), el("td", {}, input));
      });
      body.append(el("h3", {}, "Parameters"),
        el("table", {}, el("tr", {}, ["name", "in", "type", "description", "value"].map((h) => el("th", {}, h))), rows));
    }
    let bodyInput = null;
    const content = op.requestBody && op.requestBody.content && op.requestBody.content["application/json"];
    if (content) {
      bodyInput = el("textarea", { "aria-label": "request body", spellcheck: "false" });
      bodyInput.value = JSON.stringify(example(content.schema, 0), null, 2);
      body.append(el("h3", {}, "Request body (application/json)", op.requestBody.required ? el("span", { class: "req" }, " *") : null),
        el("p", { class: "summary" }, typeLabel(content.schema)), bodyInput);
    }
    body.append(el("h3", {}, "Responses"));
    for (const [status, response] of Object.entries(op.responses || {})) {
      const types = Object.entries(response.content || {});
      body.append(el("p", {}, el("strong", {}, status), " ", response.description || "",
        types.length ? el("span", { class: "summary" }, " — " + types.map(([t]) => t).join(", ")) : null));
      for (const [type, media] of types) {
        if (type === "application/json" && media.schema) body.append(schemaBlock(media.schema));
      }
    }
    const result = el("div", {});
    const send = el("button", { type: "button" }, "Send request");
    send.addEventListener("click", () => run(path, method, inputs, bodyInput, result));
    body.append(send, result);
    const summary = el("summary", {},
      el("span", { class: "method " + (METHODS.includes(method) ? method : "other") }, method.toUpperCase()),
      el("span", { class: "path" }, path), el("span", { class: "summary" }, op.summary || ""));
    const view = el("details", { class: "op" + (op.deprecated ? " deprecated" : ""), id: op.operationId || "" }, summary, body);
    view.dataset.search = [method, path, op.summary || "", op.operationId || ""].join(" ").toLowerCase();
    return view;
  }

  async function run(path, method, inputs, bodyInput, result) {
    result.replaceChildren(el("p", { class: "loading" }, "Sending…"));
    let url = path;
    const query = new URLSearchParams();
    const headers = {};
    for (const { param, input } of inputs) {
      const value = input.value;
      if (value === "") continue;
      const many = (param.schema || {}).type === "array";
      const values = many ? value.split(",").map((v) => v.trim()) : [value];
      if (param.in === "path") url = url.replace("{" + param.name + "}", encodeURIComponent(value));
      else if (param.in === "query") values.forEach((v) => query.append(param.name, v));
      else if (param.in === "header") headers[param.name] = values.join(", ");
    }
    const init = { method: method.toUpperCase(), headers };
    if (bodyInput) {
      init.body = bodyInput.value;
      headers["Content-Type"] = "application/json";
    }
    const search = query.toString();
    const target = url + (search ? "?" + search : "");
    const curl = ["curl", "-X", init.method, JSON.stringify(new URL(target, location.href).href)]
      .concat(Object.entries(headers).flatMap(([k, v]) => ["-H", JSON.stringify(k + ": " + v)]))
      .concat(init.body ? ["--data", JSON.stringify(init.body)] : []).join(" ");
    try {
      const began = performance.now();
      const response = await fetch(target, init);
      const text = await response.text();
      const took = Math.round(performance.now() - began);
      let shown = text;
      try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (_) { /* not JSON */ }
      const lines = [];
      response.headers.forEach((value, key) => lines.push(key + ": " + value));
      result.replaceChildren(
        el("h3", {}, "Answer ", el("span", { class: "status " + (response.ok ? "ok" : "fail") }, String(response.status)), ` (${took} ms)`),
        el("pre", {}, curl), el("pre", {}, lines.join("\n")), el("pre", { class: "answer" }, shown || "(no body)"));
    } catch (error) {
      result.replaceChildren(el("p", { class: "error" }, "The request failed: " + error));
    }
  }

  function render() {
    const info = spec.info || {};
    document.getElementById("title").textContent = info.title || "API";
    document.title = info.title || "API";
    const meta = document.getElementById("meta");
    meta.prepend(el("span", {}, "version " + (info.version || "?") + " · OpenAPI " + spec.openapi + " · "));
    if (info.description) meta.after(el("p", {}, info.description));
    const groups = new Map();
    for (const [path, item] of Object.entries(spec.paths || {})) {
      for (const method of METHODS) {
        const op = item[method];
        if (!op) continue;
        for (const tag of (op.tags && op.tags.length ? op.tags : ["default"])) {
          if (!groups.has(tag)) groups.set(tag, []);
          groups.get(tag).push(operationView(path, method, op));
        }
      }
    }
    main.replaceChildren();
    if (!groups.size) main.append(el("p", {}, "This API has no operations yet."));
    for (const [tag, views] of groups) {
      main.append(el("section", { class: "group" }, el("h2", { class: "tag" }, tag), views));
    }
    const wanted = decodeURIComponent(location.hash.slice(1));
    const target = wanted && document.getElementById(wanted);
    if (target) { target.open = true; target.scrollIntoView(); }
  }

  document.getElementById("filter").addEventListener("input", (event) => {
    const words = event.target.value.toLowerCase().split(/\s+/).filter(Boolean);
    for (const view of main.querySelectorAll("details.op")) {
      view.classList.toggle("hidden", !words.every((w) => view.dataset.search.includes(w)));
    }
  });

  fetch(main.dataset.openapi)
    .then((response) => {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.json();
    })
    .then((document_) => { spec = document_; render(); })
    .catch((error) => main.replaceChildren(el("p", { class: "error" }, "Cannot load the API description: " + error)));
})();
