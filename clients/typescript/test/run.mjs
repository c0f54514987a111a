// Generates the client from lib/server/openapi.json, type-checks and compiles
// src/client.ts against it, then submits and reads a task through it against a
// real `tasker serve` (TASKER_BIN, default build/release/cli/tasker) on loopback.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const project = resolve(here, "..");
const root = resolve(project, "../..");
const bin = (name) => join(project, "node_modules", ".bin", name);
const tasker = process.env.TASKER_BIN ?? join(root, "build/release/cli/tasker");

test("the OpenAPI document generates types that src/client.ts compiles against", () => {
  // --empty-objects-unknown: a schema of `{"type": "object"}` (a context, a result) is any object, as
  // JSON Schema says; without it openapi-typescript would type it as an object with no properties.
  execFileSync(bin("openapi-typescript"), [join(root, "lib/server/openapi.json"), "--empty-objects-unknown", "-o",
                                           join(project, "generated/schema.d.ts")], { stdio: "pipe" });
  execFileSync(bin("tsc"), ["-p", join(project, "tsconfig.json")], { stdio: "pipe" });
});

test("the generated client submits a task and reads it back from a real tasker serve", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "tasker-ts-"));
  const db = `sqlite://${join(dir, "tasker.db")}`;
  execFileSync(tasker, ["migrate", "--db", db], { stdio: "pipe" });
  const server = spawn(tasker, ["serve", "--db", db, "--templates", join(root, "templates"), "--listen", "127.0.0.1:0"],
                       { stdio: ["ignore", "pipe", "inherit"] });
  t.after(() => {
    server.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  });
  const url = await new Promise((done, fail) => {
    let text = "";
    server.stdout.on("data", (chunk) => {
      text += chunk;
      if (text.includes("\n")) done(text.split("\n")[0].trim());
    });
    server.on("exit", (code) => fail(new Error(`tasker serve exited with ${code}`)));
  });
  const client = await import(join(project, "build/src/client.js"));
  const task = await client.submit(url, "linear_workflow", "mathematical_sequence", { even_number: 6 });
  assert.equal(task.namespace, "linear_workflow");
  assert.equal(task.name, "mathematical_sequence");
  assert.equal(task.total_steps, 4);
  const read = await client.getTask(url, task.task_uuid);
  assert.equal(read.task_uuid, task.task_uuid);
  assert.deepEqual(read.context, { even_number: 6 });
  assert.deepEqual(read.steps.map((s) => s.name), ["linear_step_1", "linear_step_2", "linear_step_3", "linear_step_4"]);
  const missing = await client.missingTask(url, "3f2b8c1e-4d5a-4e6f-8a9b-0c1d2e3f4a5b");
  assert.equal(missing.status, 404);
  assert.equal(missing.error.error.code, "NOT_FOUND");
});
