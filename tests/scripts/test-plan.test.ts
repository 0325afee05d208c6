/**
 * The shard plan of `npm test` (scripts/test-plan.ts): balanced by recorded seconds,
 * serial files kept apart, new files estimated, and the runner's summary read back
 * from real `bun test` output.
 */
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { countsFromOutput, durationsFromJunit, estimateFor, failuresFromOutput, planQueue, planShards, shardCount, SLOW, tierFiles, CHUNKS_PER_WORKER } from "../../scripts/test-plan.ts";

describe("planShards", () => {
  test("longest first onto the least loaded shard: shards end close together", () => {
    const d = { a: 10, b: 9, c: 5, d: 4, e: 1, f: 1 };
    const plan = planShards(Object.keys(d), d, 2, {});
    expect(plan.parallel.map((s) => s.seconds).sort()).toEqual([15, 15]);
    expect(plan.parallel.flatMap((s) => s.files).sort()).toEqual(Object.keys(d).sort());
  });

  test("serial files never share a parallel shard", () => {
    const d = { a: 10, b: 1, slow: 50 };
    const plan = planShards(["a", "b", "slow"], d, 3, { slow: "why" });
    expect(plan.serial).toEqual({ files: ["slow"], seconds: 50 });
    expect(plan.parallel.flatMap((s) => s.files).sort()).toEqual(["a", "b"]);
  });

  test("a file missing from the table costs the median of the known ones", () => {
    expect(estimateFor({ a: 1, b: 3, c: 100 })).toBe(3);
    expect(estimateFor({})).toBe(5);
    const plan = planShards(["a", "b", "c", "new"], { a: 1, b: 3, c: 100 }, 2, {});
    expect(plan.parallel.find((s) => s.files.includes("new"))?.seconds).toBe(1 + 3 + 3);
  });

  test("files keep the given order inside a shard; empty shards are dropped", () => {
    const plan = planShards(["z", "y", "x"], { x: 3, y: 2, z: 1 }, 5, {});
    expect(plan.parallel.length).toBe(3);
    const one = planShards(["z", "y", "x"], { x: 3, y: 2, z: 1 }, 1, {});
    expect(one.parallel[0]?.files).toEqual(["z", "y", "x"]);
  });
});

test("planQueue: every file in exactly one chunk, at most CHUNKS_PER_WORKER chunks a worker, longest chunk first", () => {
  const d = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`f${i}`, i + 1]));
  const plan = planQueue(Object.keys(d), d, 2, {});
  expect(plan.parallel.length).toBe(2 * CHUNKS_PER_WORKER);
  expect(plan.parallel.flatMap((c) => c.files).sort()).toEqual(Object.keys(d).sort());
  const seconds = plan.parallel.map((c) => c.seconds);
  expect(seconds).toEqual([...seconds].sort((a, b) => b - a));
});

test("shardCount: the override wins, else the cores, never fewer than 2", () => {
  expect(shardCount({}, 1)).toBe(2);
  expect(shardCount({}, 8)).toBe(8);
  expect(shardCount({ FLEDGE_TEST_SHARDS: "3" }, 8)).toBe(3);
  expect(shardCount({ FLEDGE_TEST_SHARDS: "1" }, 8)).toBe(1);
  expect(shardCount({ FLEDGE_TEST_SHARDS: "x" }, 4)).toBe(4);
});

describe("reading a bun test run back", () => {
  const junit = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="bun test" tests="5" failures="1" skipped="2" time="6.06">
  <testsuite name="tests/a.test.ts" file="tests/a.test.ts" tests="1" assertions="0" failures="0" skipped="0" time="6.029490381" hostname="vm">
    <testcase name="sleeps" classname="" time="6.002163" file="tests/a.test.ts" line="2" assertions="0" />
  </testsuite>
  <testsuite name="tests/b &amp; c.test.ts" file="tests/b &amp; c.test.ts" tests="4" time="0.0015" hostname="vm">
    <testsuite name="grp" file="tests/b &amp; c.test.ts" line="2" tests="4" time="9" hostname="vm">
    </testsuite>
  </testsuite>
</testsuites>`;
  test("per-file seconds come from the file-level suites only", () => {
    expect(durationsFromJunit(junit)).toEqual({ "tests/a.test.ts": 6.029490381, "tests/b & c.test.ts": 0.0015 });
  });

  const output = ["tests/a.test.ts:", "(pass) sleeps [6002.16ms]", "", "tests/b.test.ts:", "(pass) grp > ok [0.01ms]", "error: expect(received).toBe(expected)", "(fail) grp > bad <x> [0.27ms]", "(skip) grp > sk", "", "# Unhandled error between tests", "error: boom", "(todo) grp > td", "", " 2 pass", " 1 skip", " 1 todo", " 1 fail", " 1 expect() calls", "Ran 5 tests across 2 files. [6.07s]", "", "1 tests failed:", "(fail) grp > bad <x> [0.27ms]"].join("\n");
  test("counts and failing tests with their file", () => {
    expect(countsFromOutput(output)).toEqual({ pass: 2, fail: 1, skip: 1, todo: 1 });
    expect(failuresFromOutput(output)).toEqual(["tests/b.test.ts > grp > bad <x>", "tests/b.test.ts > (an error outside any test: see its output)"]);
  });
});

describe("the slow tier", () => {
  test("a fast run leaves out exactly the slow files; a full run keeps every file in order", () => {
    const files = ["tests/a.test.ts", "tests/slow.test.ts", "tests/b.test.ts"];
    const slow = { "tests/slow.test.ts": "why" };
    expect(tierFiles(files, true, slow)).toEqual(["tests/a.test.ts", "tests/b.test.ts"]);
    expect(tierFiles(files, false, slow)).toEqual(files);
  });

  test("every slow-tier entry names a test file that exists, with a reason", () => {
    const root = join(import.meta.dir, "..", "..");
    for (const [file, why] of Object.entries(SLOW)) {
      expect({ file, exists: existsSync(join(root, file)) }).toEqual({ file, exists: true });
      expect(why.length).toBeGreaterThan(10);
    }
  });
});
