// Persistence, after the restart, from Node: with the CA file trusted before the kill
// (NODE_EXTRA_CA_CERTS) and the tokens issued before it, the thread and its messages are there;
// then the thread is deleted.

import { readFileSync } from "node:fs";
import { ChatClient } from "@azure/communication-chat";
import { AzureCommunicationTokenCredential } from "@azure/communication-common";

import { Checker, env, run } from "./common.mjs";

async function flow(c) {
  const state = JSON.parse(readFileSync(env("ACS_INTEROP_STATE"), "utf8"));
  const endpoint = env("ACS_INTEROP_ENDPOINT");
  const alice = new ChatClient(endpoint, new AzureCommunicationTokenCredential(state.alice.token));
  const bob = new ChatClient(endpoint, new AzureCommunicationTokenCredential(state.bob.token));
  const aliceThread = alice.getChatThreadClient(state.threadId);
  const bobThread = bob.getChatThreadClient(state.threadId);

  c.call("getProperties (token from before the restart)");
  c.equal((await bobThread.getProperties()).topic, state.topic, "the kept thread's topic");
  const listed = (await c.pages("listMessages", aliceThread.listMessages({ maxPageSize: 2 }))).flat();
  const contents = new Map(listed.map((m) => [m.id, m.content?.message]));
  for (const m of state.messages) c.equal(contents.get(m.id), m.content, `kept message ${m.id}`);
  c.call("getMessage");
  const first = await bobThread.getMessage(state.messages[0].id);
  c.equal(first.sender?.communicationUserId, state.alice.id, "the kept message's sender");
  c.equal(first.metadata, { i: "0" }, "the kept message's metadata");
  const receipts = (await c.pages("listReadReceipts", aliceThread.listReadReceipts())).flat();
  c.check(
    receipts.some((r) => r.sender.communicationUserId === state.bob.id && r.chatMessageId === state.messages[2].id),
    "bob's kept read receipt",
  );
  c.call("sendMessage (after the restart)");
  const sent = await aliceThread.sendMessage({ content: "after the restart, from Node" });
  c.sent(state.threadId, sent.id, [state.bob.rawId]);
  c.call("getMessage (the new message)");
  c.equal((await bobThread.getMessage(sent.id)).content?.message, "after the restart, from Node", "bob reads the new message");
  c.call("deleteChatThread");
  await alice.deleteChatThread(state.threadId);
  c.threadsDeleted.push(state.threadId);
  await c.expectStatus(404, "getProperties of the deleted thread", () => bobThread.getProperties());
}

await run(new Checker("node-persist-check"), flow);
