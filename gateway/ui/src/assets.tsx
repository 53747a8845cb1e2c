// The asset graph of the latest deployed manifest, laid out by dagre: each node shows its
// latest materialization and partition health; selected nodes launch one run.
import dagre from "@dagrejs/dagre";
import { useMemo, useRef, useState } from "preact/hooks";

import type {
  GetRunResponse,
  StoredManifest,
} from "@arco/sdk/gen/arco/orchestration/v1/orchestration_service_pb";

import { TaskStatus, millis, runFinished, when } from "./format.js";
import { usePoll } from "./poll.js";
import { describeError, type Session } from "./session.js";

const MANIFEST_POLL_MS = 15_000;
const HEALTH_POLL_MS = 3000;
// Runs scanned for the latest materialization of unpartitioned assets.
const RECENT_RUNS = 50;
const NODE_WIDTH = 240;
const NODE_HEIGHT = 64;
// ListPartitions pages of 200: enough for the graph's health without paging forever.
const MAX_PARTITION_PAGES = 25;

interface Health {
  /** Partitioned assets: their partition_status rows (unpartitioned ones have none). */
  total: number;
  materialized: number;
  stale: number;
  /** Finished attempts whose outcome was FAILED (the newest per partition, or per asset). */
  failed: number;
  latestAt?: number;
  latestRunId?: string;
}

type Healths = Map<string, Health>;

function healthOf(healths: Healths, key: string): Health {
  let health = healths.get(key);
  if (!health) {
    health = { total: 0, materialized: 0, stale: 0, failed: 0 };
    healths.set(key, health);
  }
  return health;
}

function materializedAt(health: Health, at: number | undefined, runId: string | undefined): void {
  if (at !== undefined && (health.latestAt === undefined || at > health.latestAt)) {
    health.latestAt = at;
    health.latestRunId = runId;
  }
}

function assetKey(key: { namespace: string; name: string } | undefined): string {
  return key ? `${key.namespace}.${key.name}` : "";
}

export async function latestManifest(session: Session): Promise<StoredManifest | null> {
  const orchestration = session.client.orchestration;
  const { manifests } = await orchestration.listManifests({ workspaceId: session.workspaceId });
  const newest = [...manifests].sort((a, b) => (millis(b.deployedAt) ?? 0) - (millis(a.deployedAt) ?? 0))[0];
  if (!newest) return null;
  const answer = await orchestration.getManifest({
    workspaceId: session.workspaceId,
    manifestId: newest.manifestId,
  });
  return answer.manifest ?? null;
}

/** Partitioned assets: every partition_status row (paged). */
async function addPartitions(session: Session, healths: Healths): Promise<void> {
  let cursor = "";
  for (let page = 0; page < MAX_PARTITION_PAGES; page++) {
    const answer = await session.client.orchestration.listPartitions({
      workspaceId: session.workspaceId,
      limit: 200,
      cursor,
    });
    for (const partition of answer.partitions) {
      const health = healthOf(healths, partition.assetKey);
      health.total += 1;
      if (partition.lastMaterializationRunId) health.materialized += 1;
      if (partition.isStale) health.stale += 1;
      if (partition.lastAttemptOutcome === "FAILED") health.failed += 1;
      materializedAt(health, millis(partition.lastMaterializationAt), partition.lastMaterializationRunId);
    }
    if (!answer.nextCursor) break;
    cursor = answer.nextCursor;
  }
}

/** Unpartitioned assets have no partition rows: their newest finished tasks in the recent
 * runs tell (a finished run never changes, so it is read once per page visit). */
async function addRecentRuns(session: Session, healths: Healths, finished: Map<string, GetRunResponse>): Promise<void> {
  const orchestration = session.client.orchestration;
  const { runs } = await orchestration.listRuns({ workspaceId: session.workspaceId, limit: RECENT_RUNS });
  const details = await Promise.all(
    runs.map(async (item) => {
      const known = finished.get(item.runId);
      if (known) return known;
      const run = await orchestration.getRun({ workspaceId: session.workspaceId, runId: item.runId });
      if (runFinished(run.state)) finished.set(run.runId, run);
      return run;
    }),
  );
  const decided = new Set<string>();
  // Newest run first: the first finished attempt seen of an asset is its newest.
  for (const run of details) {
    for (const task of run.tasks) {
      const key = task.assetKey;
      if (!key || task.partitionKey) continue;
      const health = healthOf(healths, key);
      if (task.state === TaskStatus.SUCCEEDED) {
        materializedAt(health, millis(task.completedAt), run.runId);
      }
      if (!decided.has(key) && (task.state === TaskStatus.SUCCEEDED || task.state === TaskStatus.FAILED)) {
        decided.add(key);
        if (task.state === TaskStatus.FAILED) health.failed += 1;
      }
    }
  }
}

function healthClass(health: Health | undefined): string {
  if (!health || health.latestAt === undefined) return health?.failed ? "failed" : "never";
  if (health.failed > 0) return "failed";
  if (health.stale > 0 || health.materialized < health.total) return "stale";
  return "fresh";
}

interface Layout {
  width: number;
  height: number;
  nodes: { key: string; x: number; y: number; partitioned: boolean }[];
  edges: { from: string; to: string; points: { x: number; y: number }[] }[];
}

function layOut(manifest: StoredManifest): Layout {
  const graph = new dagre.graphlib.Graph();
  graph.setGraph({ rankdir: "LR", nodesep: 24, ranksep: 64, marginx: 8, marginy: 8 });
  graph.setDefaultEdgeLabel(() => ({}));
  const keys = new Set(manifest.assets.map((asset) => assetKey(asset.key)));
  const partitioned = new Set(
    manifest.assets.filter((asset) => asset.partitioning?.isPartitioned === true).map((asset) => assetKey(asset.key)),
  );
  for (const key of keys) graph.setNode(key, { width: NODE_WIDTH, height: NODE_HEIGHT });
  for (const asset of manifest.assets) {
    for (const dependency of asset.dependencies) {
      const upstream = assetKey(dependency.upstreamKey);
      if (keys.has(upstream)) graph.setEdge(upstream, assetKey(asset.key));
    }
  }
  dagre.layout(graph);
  const size = graph.graph();
  return {
    width: size.width ?? NODE_WIDTH,
    height: size.height ?? NODE_HEIGHT,
    nodes: graph.nodes().map((key: string) => {
      const node = graph.node(key);
      return { key, x: node.x - NODE_WIDTH / 2, y: node.y - NODE_HEIGHT / 2, partitioned: partitioned.has(key) };
    }),
    edges: graph.edges().map((edge: { v: string; w: string }) => ({
      from: edge.v,
      to: edge.w,
      points: graph.edge(edge).points ?? [],
    })),
  };
}

export function AssetsPage({ session }: { session: Session }) {
  const manifest = usePoll(() => latestManifest(session), MANIFEST_POLL_MS, [session]);
  const finishedRuns = useRef(new Map<string, GetRunResponse>());
  const health = usePoll(
    async () => {
      const healths: Healths = new Map();
      await Promise.all([addPartitions(session, healths), addRecentRuns(session, healths, finishedRuns.current)]);
      return healths;
    },
    HEALTH_POLL_MS,
    [session],
  );
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [includeUpstream, setIncludeUpstream] = useState(false);
  const [launchError, setLaunchError] = useState<unknown>();
  const layout = useMemo(() => manifest.data && layOut(manifest.data), [manifest.data]);

  const toggle = (key: string) => {
    const next = new Set(selected);
    if (!next.delete(key)) next.add(key);
    setSelected(next);
  };
  const launch = async () => {
    setLaunchError(undefined);
    try {
      const { runId } = await session.client.orchestration.triggerRun({
        workspaceId: session.workspaceId,
        selection: [...selected].sort(),
        includeUpstream,
        labels: { via: "web-ui" },
      });
      location.hash = `#/runs/${runId}`;
    } catch (error) {
      setLaunchError(error);
    }
  };

  return (
    <section>
      <h1>Assets</h1>
      {manifest.error !== undefined && <p class="error">{describeError(manifest.error)}</p>}
      {health.error !== undefined && <p class="error">{describeError(health.error)}</p>}
      {launchError !== undefined && <p class="error">{describeError(launchError)}</p>}
      {manifest.data === undefined && manifest.error === undefined && <p>Loading…</p>}
      {manifest.data && (
        <p class="muted">
          Manifest <code>{manifest.data.manifestId}</code> (code version {manifest.data.codeVersionId}),
          deployed {when(manifest.data.deployedAt)} by {manifest.data.deployedBy || "—"}
        </p>
      )}
      {manifest.data === null && <p>No manifest deployed.</p>}
      <div class="actions">
        <button id="launch-run" disabled={selected.size === 0} onClick={launch}>
          Materialize selected ({selected.size})
        </button>
        <label>
          <input
            type="checkbox"
            checked={includeUpstream}
            onChange={(event) => setIncludeUpstream(event.currentTarget.checked)}
          />{" "}
          with upstream
        </label>
        {selected.size > 0 && <button onClick={() => setSelected(new Set())}>Clear</button>}
      </div>
      {layout && (
        <svg id="asset-graph" class="graph" width={layout.width} height={layout.height}>
          <defs>
            <marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto">
              <path d="M0,0 L10,5 L0,10 z" />
            </marker>
          </defs>
          {layout.edges.map((edge) => (
            <path
              class="edge"
              data-from={edge.from}
              data-to={edge.to}
              marker-end="url(#arrow)"
              d={edge.points.map((p, i) => `${i ? "L" : "M"}${p.x},${p.y}`).join(" ")}
            />
          ))}
          {layout.nodes.map((node) => (
            <AssetNode
              assetKey={node.key}
              x={node.x}
              y={node.y}
              partitioned={node.partitioned}
              health={health.data?.get(node.key)}
              selected={selected.has(node.key)}
              onToggle={toggle}
            />
          ))}
        </svg>
      )}
    </section>
  );
}

interface AssetNodeProps {
  assetKey: string;
  x: number;
  y: number;
  partitioned: boolean;
  health: Health | undefined;
  selected: boolean;
  onToggle: (key: string) => void;
}

function AssetNode({ assetKey: key, x, y, partitioned, health, selected, onToggle }: AssetNodeProps) {
  const status = healthClass(health);
  const latest = health?.latestAt
    ? `materialized ${new Date(health.latestAt).toLocaleTimeString()}`
    : "never materialized";
  const counts = partitioned
    ? `${health?.materialized ?? 0}/${health?.total ?? 0} partitions` +
        (health?.stale ? ` · ${health.stale} stale` : "") +
        (health?.failed ? ` · ${health.failed} failed` : "")
      : health?.failed
        ? "last attempt failed"
        : "unpartitioned";
  return (
    <g
      class={`asset ${status}${selected ? " selected" : ""}`}
      data-asset={key}
      data-health={status}
      transform={`translate(${x},${y})`}
      onClick={() => onToggle(key)}
    >
      <title>{health?.latestRunId ? `last materialized by ${health.latestRunId}` : key}</title>
      <rect width={NODE_WIDTH} height={NODE_HEIGHT} rx="6" />
      <text x="10" y="20" class="asset-key">
        {key}
      </text>
      <text x="10" y="38" class="asset-latest">
        {latest}
      </text>
      <text x="10" y="54" class="asset-health">
        {counts}
      </text>
    </g>
  );
}
