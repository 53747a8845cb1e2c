// The TypeScript SDK against a real mesh (started by tests/sdk/test_typescript_sdk.py):
// over gRPC straight to the api (mesh client certificate and the user's JWT) and over
// gRPC-web through Envoy (the user's JWT only), deploy a manifest, trigger a run, follow it
// to SUCCEEDED and read its logs; failures arrive as ArcoError with the server's reasons.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";

import { fromJson } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";

import { ArcoError, createArcoClient, grpc, grpcWeb } from "../dist/src/node.js";
import { DeployManifestRequestSchema } from "../dist/gen/arco/orchestration/v1/orchestration_service_pb.js";
import { RunStatus } from "../dist/gen/arco/orchestration/v1/types_pb.js";

const env = (name) => {
  const value = process.env[name];
  assert.ok(value, `${name} is set by tests/sdk/test_typescript_sdk.py`);
  return value;
};

const workspaceId = env("ARCO_TEST_WORKSPACE");
const manifest = JSON.parse(readFileSync(env("ARCO_TEST_MANIFEST"), "utf8"));
const selection = env("ARCO_TEST_SELECTION").split(",");
const logLine = env("ARCO_TEST_LOG_LINE");

const transports = {
  "gRPC to the api": {
    baseUrl: env("ARCO_TEST_API_URL"),
    transport: grpc({
      ca: readFileSync(env("ARCO_TEST_MESH_CA")),
      cert: readFileSync(env("ARCO_TEST_CLIENT_CERT")),
      key: readFileSync(env("ARCO_TEST_CLIENT_KEY")),
      servername: "localhost",
    }),
  },
  "gRPC-web through Envoy": {
    baseUrl: env("ARCO_TEST_EDGE_URL"),
    transport: grpcWeb({ ca: readFileSync(env("ARCO_TEST_EDGE_CA")) }),
  },
};

async function waitFor(what, probe, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await probe();
    if (last) return last;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  assert.fail(`timed out waiting for ${what}`);
}

for (const [name, { baseUrl, transport }] of Object.entries(transports)) {
  describe(name, () => {
    const client = createArcoClient({ baseUrl, transport, token: env("ARCO_TEST_OPERATOR_TOKEN") });

    test("deploys, runs to SUCCEEDED and reads the logs", async () => {
      const deployed = await client.orchestration.deployManifest(
        fromJson(DeployManifestRequestSchema, manifest),
      );
      assert.match(deployed.manifestId, /.+/);

      const triggered = await client.orchestration.triggerRun({
        workspaceId,
        selection,
        labels: { via: name },
      });
      const run = await waitFor(`run ${triggered.runId} to finish`, async () => {
        const current = await client.orchestration.getRun({ workspaceId, runId: triggered.runId });
        return [RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED].includes(current.state)
          ? current
          : undefined;
      });
      assert.equal(RunStatus[run.state], "SUCCEEDED");
      assert.equal(run.labels.via, name);
      assert.deepEqual(run.tasks.map((task) => task.taskKey).sort(), [...selection].sort());

      // Logs are uploaded after the task finishes: wait for them.
      const logs = await waitFor("the task's logs", async () => {
        const page = await client.orchestration.getRunLogs({ workspaceId, runId: run.runId });
        return page.text.includes(logLine) ? page : undefined;
      });
      assert.ok(logs.text.includes(logLine));
    });

    test("a missing run is ArcoError NotFound with the server's reason and our request id", async () => {
      const error = await client.orchestration
        .getRun({ workspaceId, runId: "run_does_not_exist" })
        .then(() => assert.fail("GetRun of a missing run succeeded"), (e) => e);
      assert.ok(error instanceof ArcoError, String(error));
      assert.equal(error.code, Code.NotFound);
      assert.equal(error.reason, "run_not_found");
      assert.equal(error.codeName, "not_found");
      assert.match(error.requestId, /^[0-9a-f-]{36}$/);
    });

    test("a viewer may read but not trigger: PermissionDenied", async () => {
      const viewer = createArcoClient({ baseUrl, transport, token: env("ARCO_TEST_VIEWER_TOKEN") });
      const listed = await viewer.orchestration.listRuns({ workspaceId });
      assert.ok(Array.isArray(listed.runs));
      const error = await viewer.orchestration
        .triggerRun({ workspaceId, selection })
        .then(() => assert.fail("a viewer triggered a run"), (e) => e);
      assert.equal(error.code, Code.PermissionDenied);
    });

    test("without a token the api answers Unauthenticated", async () => {
      const anonymous = createArcoClient({ baseUrl, transport });
      const error = await anonymous.orchestration
        .listRuns({ workspaceId })
        .then(() => assert.fail("an anonymous call succeeded"), (e) => e);
      assert.equal(error.code, Code.Unauthenticated);
    });
  });
}
