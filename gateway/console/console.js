// Arco console: lists browsable files, mints signed URLs, runs SQL in DuckDB-WASM.
// Query parameters: ?sql=... runs that statement once ready; ?token=... sends a bearer;
// ?tenant=&workspace= send dev-posture scope headers.
import * as duckdb from "./node_modules/@duckdb/duckdb-wasm/dist/duckdb-browser.mjs";

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);
const headers = { "content-type": "application/json", accept: "application/json" };
if (params.get("token")) headers.authorization = `Bearer ${params.get("token")}`;
// Dev posture only (ARCO_GATEWAY_DEV_AUTH): the gateway accepts scope headers.
if (params.get("tenant")) headers["x-tenant-id"] = params.get("tenant");
if (params.get("workspace")) headers["x-workspace-id"] = params.get("workspace");
const state = { db: null, conn: null, views: [] };

function setStatus(text, error) {
  $("status").textContent = text;
  $("error").textContent = error || "";
}

async function api(method, path, body) {
  const response = await fetch(path, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : {};
}

function renderTable(element, rows) {
  element.textContent = "";
  if (!rows.length) { element.textContent = "(no rows)"; return; }
  const table = document.createElement("table");
  const columns = Object.keys(rows[0]);
  const head = table.insertRow();
  for (const c of columns) { const th = document.createElement("th"); th.textContent = c; head.appendChild(th); }
  for (const row of rows) {
    const tr = table.insertRow();
    for (const c of columns) tr.insertCell().textContent = row[c] === null ? "null" : String(row[c]);
  }
  element.appendChild(table);
}

async function startDuckDB() {
  const dist = new URL("./node_modules/@duckdb/duckdb-wasm/dist/", location.href).href;
  const bundle = await duckdb.selectBundle({
    mvp: { mainModule: dist + "duckdb-mvp.wasm", mainWorker: dist + "duckdb-browser-mvp.worker.js" },
    eh: { mainModule: dist + "duckdb-eh.wasm", mainWorker: dist + "duckdb-browser-eh.worker.js" },
  });
  const db = new duckdb.AsyncDuckDB(new duckdb.ConsoleLogger(duckdb.LogLevel.WARNING), new Worker(bundle.mainWorker));
  await db.instantiate(bundle.mainModule, bundle.pthreadWorker);
  await db.open({ query: { castBigIntToDouble: true } });
  state.db = db;
  state.conn = await db.connect();
}

// Signed URLs: gateway-served ones answer HEAD + Range (DuckDB reads only what it needs);
// presigned object-store GETs refuse HEAD, so those are downloaded once with fetch().
async function registerFiles(files) {
  const byDomain = {};
  for (const f of files) (byDomain[f.domain] ||= []).push(f);
  for (const [domain, list] of Object.entries(byDomain)) {
    const minted = await api("POST", "/api/v1/browser/urls", { domain, paths: list.map((f) => f.path) });
    for (const signed of minted.urls) {
      const file = list.find((f) => f.path === signed.path);
      const view = file.table.replace(/\./g, "_");
      const url = new URL(signed.url, location.href).href;
      const name = `${view}.parquet`;
      if (new URL(url).pathname.startsWith("/files/")) {
        await state.db.registerFileURL(name, url, duckdb.DuckDBDataProtocol.HTTP, false);
      } else {
        const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
        await state.db.registerFileBuffer(name, bytes);
      }
      await state.conn.query(`CREATE OR REPLACE VIEW ${view} AS SELECT * FROM read_parquet('${name}')`);
      state.views.push(view);
    }
  }
}

async function runSql(sql) {
  const started = performance.now();
  const result = await state.conn.query(sql);
  const rows = result.toArray().map((r) => r.toJSON());
  const elapsed = performance.now() - started;
  $("result-json").textContent = JSON.stringify(rows);
  $("result-json").dataset.ms = String(elapsed);
  renderTable($("result"), rows);
  return rows;
}

async function showWorkspace() {
  try {
    const runs = await api("POST", "/api/v1/query?format=json", {
      sql: "SELECT run_id, state, tasks_total, tasks_succeeded, triggered_at FROM system.orchestration.runs ORDER BY triggered_at DESC LIMIT 50",
    });
    renderTable($("runs"), runs);
    const tasks = await api("POST", "/api/v1/query?format=json", {
      sql: "SELECT run_id, task_key, state, attempt FROM system.orchestration.tasks ORDER BY run_id, task_key LIMIT 200",
    });
    renderTable($("tasks"), tasks);
  } catch (error) {
    $("runs").textContent = String(error);
  }
}

async function main() {
  try {
    setStatus("loading");
    await startDuckDB();
    const listing = await api("GET", "/api/v1/browser/files");
    const files = listing.files || [];
    for (const f of files) {
      const li = document.createElement("li");
      li.textContent = `${f.table} (${f.domain}, ${f.size_bytes} bytes)`;
      $("files").appendChild(li);
    }
    await registerFiles(files);
    await showWorkspace();
    $("run").onclick = async () => {
      try { setStatus("running"); await runSql($("sql").value); setStatus("DONE"); }
      catch (error) { setStatus("ERROR", String(error)); }
    };
    if (params.get("sql")) {
      $("sql").value = params.get("sql");
      await runSql(params.get("sql"));
    }
    setStatus("DONE");
  } catch (error) {
    setStatus("ERROR", String(error && error.stack ? error.stack : error));
  }
}

main();
