// Drives the router's docs page (docs.js as served) in Node against a running server.
//
//   node docs_page.mjs '{"page": "http://127.0.0.1:PORT/docs", "try": "operationId",
//                        "values": {"param name": "value"}, "filter": "words"}'
//
// It reads the served page, builds the few elements docs.js looks up from it, runs the
// served docs.js on a minimal DOM (below), waits for the operations to be listed, types
// `filter` into the filter box, fills `values` into the operation `try` and presses its
// "Send request" button (a real request to the server, through Node's fetch), then prints
// what the page shows as JSON. The DOM implements what docs.js uses and nothing more.
import vm from "node:vm";

class Node {
  constructor() {
    this.childNodes = [];
    this.parentNode = null;
    this.listeners = {};
  }
  insert(child, index) {
    const node = child instanceof Node ? child : new Text(String(child));
    if (node.parentNode) node.remove();
    node.parentNode = this;
    this.childNodes.splice(index, 0, node);
  }
  append(...children) { for (const child of children) this.insert(child, this.childNodes.length); }
  prepend(...children) { children.forEach((child, i) => this.insert(child, i)); }
  after(...children) {
    const parent = this.parentNode;
    let index = parent.childNodes.indexOf(this) + 1;
    for (const child of children) parent.insert(child, index++);
  }
  remove() {
    const siblings = this.parentNode.childNodes;
    siblings.splice(siblings.indexOf(this), 1);
    this.parentNode = null;
  }
  replaceChildren(...children) {
    for (const child of this.childNodes) child.parentNode = null;
    this.childNodes = [];
    this.append(...children);
  }
  get textContent() { return this.childNodes.map((child) => child.textContent).join(""); }
  set textContent(text) { this.replaceChildren(String(text)); }
  addEventListener(type, listener) { (this.listeners[type] ||= []).push(listener); }
  dispatch(type) {
    for (const listener of this.listeners[type] || []) listener({ type, target: this });
  }
}

class Text extends Node {
  constructor(data) { super(); this.data = data; }
  get textContent() { return this.data; }
}

class Element extends Node {
  constructor(tag) {
    super();
    this.tagName = tag.toUpperCase();
    this.attributes = {};
    this.dataset = {};
    this.className = "";
    this.value = "";
    this.open = false;
    this.scrolledTo = false;
    const element = this;
    this.classList = {
      contains: (name) => element.className.split(/\s+/).includes(name),
      toggle(name, force) {
        const names = element.className.split(/\s+/).filter((n) => n && n !== name);
        const on = force === undefined ? !this.contains(name) : force;
        element.className = (on ? [...names, name] : names).join(" ");
        return on;
      },
    };
  }
  setAttribute(name, value) { this.attributes[name] = String(value); }
  getAttribute(name) { return name in this.attributes ? this.attributes[name] : null; }
  get id() { return this.getAttribute("id") || ""; }
  scrollIntoView() { this.scrolledTo = true; }
  *descendants() {
    for (const child of this.childNodes) {
      if (child instanceof Element) { yield child; yield* child.descendants(); }
    }
  }
  querySelectorAll(selector) {  // "tag", ".class" or "tag.class"
    const [tag, name] = selector.split(".");
    return [...this.descendants()].filter((e) =>
      (!tag || e.tagName === tag.toUpperCase()) && (!name || e.classList.contains(name)));
  }
  find(selector) { return this.querySelectorAll(selector)[0]; }
}

const options = JSON.parse(process.argv[2]);
const page = new URL(options.page);
const html = await (await fetch(page)).text();
const attribute = (pattern) => {
  const found = html.match(pattern);
  if (!found) throw new Error(`the page has no ${pattern}`);
  return found[1];
};

const root = new Element("html");
const byId = {};
for (const [id, tag] of [["title", "h1"], ["meta", "p"], ["filter", "input"], ["operations", "main"]]) {
  attribute(new RegExp(`<${tag} id="${id}"`));
  byId[id] = new Element(tag);
  byId[id].setAttribute("id", id);
  root.append(byId[id]);
}
byId.operations.dataset.openapi = attribute(/<main id="operations" data-openapi="([^"]+)"/);
attribute(/(<p class="loading">)/);  // until the script replaces it
const loading = new Element("p");
loading.className = "loading";
byId.operations.append(loading);
const script = new URL(attribute(/<script src="([^"]+)"><\/script>/), page);

const document = {
  title: "",
  createElement: (tag) => new Element(tag),
  getElementById: (id) => byId[id] || [...root.descendants()].find((e) => e.id === id) || null,
};
const nodeFetch = globalThis.fetch;
Object.assign(globalThis, {
  document,
  Node,
  location: { href: page.href, hash: "" },
  fetch: (target, init) => nodeFetch(new URL(target, page), init),  // relative, as a browser
});

async function until(check, what) {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

vm.runInThisContext(await (await nodeFetch(script)).text(), { filename: script.href });
const main = byId.operations;
await until(() => !main.find("p.loading"), "the operations to be listed");
const error = main.find("p.error");
if (error) throw new Error(error.textContent);

const operation = (view) => ({
  id: view.id,
  method: view.find("span.method").textContent,
  path: view.find("span.path").textContent,
  summary: view.find("summary").find("span.summary").textContent,
  parameters: view.querySelectorAll("input").map((input) => input.getAttribute("aria-label")),
  body: view.find("textarea") ? view.find("textarea").value : null,
});
const shown = {
  title: document.title,
  meta: byId.meta.textContent,
  groups: main.querySelectorAll("section.group").map((section) => ({
    tag: section.find("h2").textContent,
    operations: section.querySelectorAll("details.op").map(operation),
  })),
};

if (options.filter !== undefined) {
  byId.filter.value = options.filter;
  byId.filter.dispatch("input");
  shown.shown = main.querySelectorAll("details.op")
    .filter((view) => !view.classList.contains("hidden")).map((view) => view.id);
}

if (options.try !== undefined) {
  const views = main.querySelectorAll("details.op");
  const view = views.find((v) => v.id === options.try);
  if (!view) throw new Error(`no operation ${options.try} among ${views.map((v) => v.id)}`);
  for (const [name, value] of Object.entries(options.values || {})) {
    const input = view.querySelectorAll("input").find((i) => i.getAttribute("aria-label") === name)
      || (name === "request body" ? view.find("textarea") : undefined);
    if (!input) throw new Error(`operation ${options.try} has no input ${name}`);
    input.value = value;
  }
  view.querySelectorAll("button").find((b) => b.textContent === "Send request").dispatch("click");
  await until(() => view.find("pre.answer") || view.find("p.error"), "the answer");
  const failed = view.find("p.error");
  if (failed) throw new Error(failed.textContent);
  const [curl, headers] = view.querySelectorAll("pre").slice(-3);
  shown.tried = {
    status: view.find("span.status").textContent,
    ok: view.find("span.status").classList.contains("ok"),
    curl: curl.textContent,
    headers: headers.textContent.split("\n"),
    answer: view.find("pre.answer").textContent,
  };
}
process.stdout.write(JSON.stringify(shown));
