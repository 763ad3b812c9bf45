// Shared by the Node interop flows: the emulator's coordinates, a checker that counts calls and
// assertions, and the record of what the webhook must have received.
//
// Inputs (set by `cargo xtask interop`): ACS_INTEROP_CONNECTION_STRING, ACS_INTEROP_ENDPOINT,
// ACS_INTEROP_OUT (where to write the result), ACS_INTEROP_STATE (persistence steps); the CA is
// trusted through NODE_EXTRA_CA_CERTS. Tokens and keys are never printed.

import { writeFileSync } from "node:fs";
import { isDeepStrictEqual, inspect } from "node:util";

export function env(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`interop: the environment variable ${name} is not set`);
    process.exit(1);
  }
  return value;
}

class Failed extends Error {}

export class Checker {
  constructor(flow) {
    this.flow = flow;
    this.calls = 0;
    this.assertions = 0;
    this.step = "start";
    this.threadsCreated = [];
    this.threadsDeleted = [];
    this.messages = [];
  }

  /** Counts one SDK call (or one page fetched) and names the step for error messages. */
  call(step) {
    this.step = step;
    this.calls += 1;
  }

  check(condition, what) {
    this.assertions += 1;
    if (!condition) throw new Failed(what);
  }

  equal(got, want, what) {
    this.assertions += 1;
    if (!isDeepStrictEqual(got, want)) {
      throw new Failed(`${what}: got ${inspect(got)}, want ${inspect(want)}`);
    }
  }

  /** A message the webhook must deliver: a thread-level event and one per recipient. */
  sent(threadId, id, recipients) {
    this.messages.push({ threadId, id, recipients: [...recipients].sort() });
  }

  /** Calls `make()`, which must reject with a RestError of `status`. */
  async expectStatus(status, what, make) {
    this.call(what);
    let error;
    try {
      await make();
    } catch (e) {
      error = e;
    }
    this.check(error !== undefined, `${what}: nothing was thrown (want a RestError ${status})`);
    this.equal(error.name, "RestError", `${what}: the error's name (${error.message})`);
    this.equal(error.statusCode, status, `${what}: the RestError's statusCode`);
    return error;
  }

  /** Every page of a pager, as arrays, counting one call per page. */
  async pages(what, pager) {
    const pages = [];
    for await (const page of pager.byPage()) {
      this.call(`${what} page ${pages.length + 1}`);
      pages.push(page);
    }
    return pages;
  }

  write() {
    const result = {
      flow: this.flow,
      calls: this.calls,
      assertions: this.assertions,
      events: {
        threadsCreated: this.threadsCreated,
        threadsDeleted: this.threadsDeleted,
        messages: this.messages,
      },
    };
    writeFileSync(env("ACS_INTEROP_OUT"), JSON.stringify(result, null, 1));
  }
}

/** Runs `body(checker)`; on any failure says where and exits 1. */
export async function run(checker, body) {
  try {
    await body(checker);
  } catch (e) {
    if (!(e instanceof Failed)) console.error(e);
    console.error(`${checker.flow}: FAILED at step \`${checker.step}\`: ${e.message}`);
    process.exit(1);
  }
  checker.write();
  console.log(`${checker.flow}: ok (${checker.calls} calls, ${checker.assertions} assertions)`);
}
