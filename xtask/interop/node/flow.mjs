// The full chat flow with the official JavaScript SDKs on Node, trusting the emulator's CA
// through NODE_EXTRA_CA_CERTS. Run by `cargo xtask interop`.

import { randomUUID } from "node:crypto";
import { ChatClient } from "@azure/communication-chat";
import { AzureCommunicationTokenCredential } from "@azure/communication-common";
import { CommunicationIdentityClient } from "@azure/communication-identity";

import { Checker, env, run } from "./common.mjs";

const MISSING_THREAD = "19:00000000000000000000000000000000@thread.v2";

async function flow(c) {
  const endpoint = env("ACS_INTEROP_ENDPOINT");
  const identity = new CommunicationIdentityClient(env("ACS_INTEROP_CONNECTION_STRING"));

  c.call("identity.createUserAndToken");
  const { user: alice, token: aliceToken, expiresOn } = await identity.createUserAndToken(["chat"]);
  c.check(alice.communicationUserId.startsWith("8:acs:"), `alice's id ${alice.communicationUserId} is an 8:acs: id`);
  c.check(expiresOn > new Date(), "alice's token expires in the future");
  c.call("identity.createUser");
  const bob = await identity.createUser();
  c.call("identity.getToken");
  const bobToken = await identity.getToken(bob, ["chat"], { tokenExpiresInMinutes: 60 });
  const life = (bobToken.expiresOn.getTime() - Date.now()) / 60000;
  c.check(life > 55 && life <= 61, `bob's token lives about an hour (${life.toFixed(1)} minutes)`);
  const invalid = await c.expectStatus(400, "getToken for 30 minutes (below the 60 the service allows)", () =>
    identity.getToken(bob, ["chat"], { tokenExpiresInMinutes: 30 }),
  );
  c.equal(invalid.code, "ValidationError", "the 400's error code");
  c.call("identity.createUser (carol)");
  const carol = await identity.createUser();
  c.call("identity.getToken (carol)");
  const carolToken = await identity.getToken(carol, ["chat"]);

  const aliceChat = new ChatClient(endpoint, new AzureCommunicationTokenCredential(aliceToken));
  const bobChat = new ChatClient(endpoint, new AzureCommunicationTokenCredential(bobToken.token));
  const carolChat = new ChatClient(endpoint, new AzureCommunicationTokenCredential(carolToken.token));

  // A thread with two participants, created twice with the same idempotency token.
  const participants = [
    { id: alice, displayName: "Alice" },
    { id: bob, displayName: "Bob", shareHistoryTime: new Date("2020-01-01T00:00:00Z") },
  ];
  const idempotencyToken = randomUUID();
  c.call("createChatThread");
  const created = await aliceChat.createChatThread(
    { topic: "Interop (Node)" },
    { participants, idempotencyToken, metadata: { origin: "node" } },
  );
  c.check(!created.invalidParticipants?.length, "createChatThread: no invalid participants");
  const thread = created.chatThread;
  c.check(thread.id.startsWith("19:"), `the thread id ${thread.id} is a 19: id`);
  c.equal(thread.topic, "Interop (Node)", "the created thread's topic");
  c.equal(thread.createdBy?.communicationUserId, alice.communicationUserId, "the created thread's creator");
  c.threadsCreated.push(thread.id);
  c.call("createChatThread (same idempotency token)");
  const again = await aliceChat.createChatThread(
    { topic: "Interop (Node)" },
    { participants, idempotencyToken, metadata: { origin: "node" } },
  );
  c.equal(again.chatThread.id, thread.id, "the same idempotency token gives the same thread");
  const members = new Set([alice.communicationUserId, bob.communicationUserId]);
  const others = (who) => [...members].filter((m) => m !== who.communicationUserId);

  const aliceThread = aliceChat.getChatThreadClient(thread.id);
  const bobThread = bobChat.getChatThreadClient(thread.id);

  c.call("getProperties");
  let props = await bobThread.getProperties();
  c.equal(props.id, thread.id, "getProperties: id");
  c.equal(props.topic, "Interop (Node)", "getProperties: topic");
  c.equal(props.createdBy?.communicationUserId, alice.communicationUserId, "getProperties: createdBy");
  c.check(props.createdOn instanceof Date, "getProperties: createdOn is a Date");
  c.equal(props.metadata, { origin: "node" }, "getProperties: metadata");

  c.call("updateTopic");
  await aliceThread.updateTopic("Interop (Node), renamed");
  c.call("updateProperties");
  await aliceThread.updateProperties({
    metadata: { origin: "node", step: "updated" },
    retentionPolicy: { kind: "threadCreationDate", deleteThreadAfterDays: 30 },
  });
  c.call("getProperties (after updates)");
  props = await bobThread.getProperties();
  c.equal(props.topic, "Interop (Node), renamed", "the updated topic");
  c.equal(props.metadata, { origin: "node", step: "updated" }, "the updated metadata");
  c.equal(props.retentionPolicy, { kind: "threadCreationDate", deleteThreadAfterDays: 30 }, "the retention policy");

  const threadPages = await c.pages("listChatThreads", bobChat.listChatThreads({ maxPageSize: 1 }));
  const listedThread = threadPages.flat().find((t) => t.id === thread.id);
  c.check(listedThread !== undefined, "listChatThreads lists the thread");
  c.equal(listedThread.topic, "Interop (Node), renamed", "listChatThreads: topic");

  // Messages: text, html, metadata.
  c.call("sendMessage (text)");
  const text = await aliceThread.sendMessage({ content: "hello from Node" }, { senderDisplayName: "Alice" });
  c.sent(thread.id, text.id, others(alice));
  c.call("sendMessage (html)");
  const html = await aliceThread.sendMessage({ content: "<p>hello <b>html</b></p>" }, { type: "html" });
  c.sent(thread.id, html.id, others(alice));
  c.call("sendMessage (metadata)");
  const meta = await bobThread.sendMessage(
    { content: "with metadata" },
    { senderDisplayName: "Bob", metadata: { tag: "interop", n: "1" } },
  );
  c.sent(thread.id, meta.id, others(bob));

  c.call("getMessage (text)");
  let got = await bobThread.getMessage(text.id);
  c.equal(got.id, text.id, "getMessage: id");
  c.equal(got.type, "text", "getMessage: type");
  c.equal(got.content?.message, "hello from Node", "getMessage: content");
  c.equal(got.sender?.communicationUserId, alice.communicationUserId, "getMessage: sender");
  c.equal(got.senderDisplayName, "Alice", "getMessage: senderDisplayName");
  c.check(got.createdOn instanceof Date && got.editedOn === undefined, "getMessage: created, not edited");
  c.call("getMessage (html)");
  c.equal((await bobThread.getMessage(html.id)).type, "html", "the html message's type");
  c.call("getMessage (metadata)");
  c.equal((await aliceThread.getMessage(meta.id)).metadata, { tag: "interop", n: "1" }, "the message's metadata");

  c.call("updateMessage");
  await aliceThread.updateMessage(text.id, { content: "edited from Node", metadata: { edited: "yes" } });
  c.call("getMessage (after update)");
  got = await bobThread.getMessage(text.id);
  c.equal(got.content?.message, "edited from Node", "the updated content");
  c.equal(got.metadata, { edited: "yes" }, "the updated metadata");
  c.check(got.editedOn instanceof Date, "the updated message has editedOn");
  await c.expectStatus(403, "updateMessage of someone else's message", () =>
    bobThread.updateMessage(text.id, { content: "no" }),
  );
  c.call("deleteMessage");
  await bobThread.deleteMessage(meta.id);
  c.call("getMessage (after delete)");
  c.check((await aliceThread.getMessage(meta.id)).deletedOn instanceof Date, "the deleted message has deletedOn");

  // More messages, then all of them two per page (nextLink paging).
  const more = [];
  for (let i = 0; i < 5; i++) {
    c.call(`sendMessage (page filler ${i})`);
    const sent = await aliceThread.sendMessage({ content: `node filler ${i}` });
    more.push(sent.id);
    c.sent(thread.id, sent.id, others(alice));
  }
  const messagePages = await c.pages("listMessages", bobThread.listMessages({ maxPageSize: 2 }));
  c.check(messagePages.length >= 5, `listMessages followed nextLink (${messagePages.length} pages)`);
  c.check(messagePages.every((p) => p.length <= 2), "listMessages pages have at most 2 messages");
  const listed = messagePages.flat();
  const ids = listed.map((m) => m.id);
  c.equal(new Set(ids).size, ids.length, "listMessages lists each message once");
  for (const id of [text.id, html.id, meta.id, ...more]) c.check(ids.includes(id), `listMessages lists message ${id}`);
  c.check(listed.find((m) => m.id === meta.id).deletedOn instanceof Date, "listMessages shows the deleted message");
  const seqs = listed.map((m) => Number(m.sequenceId));
  c.equal(seqs, [...seqs].sort((a, b) => b - a), "listMessages lists the newest first");
  c.check(listed.some((m) => m.type === "topicUpdated"), "listMessages has the topicUpdated system message");
  const later = new Date(Date.now() + 3600_000);
  const none = (await c.pages("listMessages (startTime in an hour)", bobThread.listMessages({ startTime: later }))).flat();
  c.equal(none, [], "listMessages({ startTime: in an hour })");
  const recent = (await c.pages("listChatThreads (startTime an hour ago)", bobChat.listChatThreads({ startTime: new Date(Date.now() - 3600_000) }))).flat();
  c.check(recent.some((t) => t.id === thread.id), "listChatThreads({ startTime: an hour ago }) lists the thread");

  // Participants: add carol, list one per page, remove her.
  c.call("addParticipants");
  const added = await aliceThread.addParticipants({ participants: [{ id: carol, displayName: "Carol" }] });
  c.check(!added.invalidParticipants?.length, "addParticipants: no invalid participants");
  members.add(carol.communicationUserId);
  c.call("sendMessage (carol is in)");
  const toThree = await aliceThread.sendMessage({ content: "hello Carol" });
  c.sent(thread.id, toThree.id, others(alice));
  const participantPages = await c.pages("listParticipants", aliceThread.listParticipants({ maxPageSize: 1 }));
  c.check(participantPages.length >= 3, `listParticipants followed nextLink (${participantPages.length} pages)`);
  const listedParticipants = participantPages.flat();
  c.equal(
    listedParticipants.map((p) => p.id.communicationUserId).sort(),
    [...members].sort(),
    "listParticipants: who",
  );
  c.equal(
    listedParticipants.find((p) => p.id.communicationUserId === carol.communicationUserId).displayName,
    "Carol",
    "listParticipants: carol's display name",
  );
  c.call("removeParticipant");
  await aliceThread.removeParticipant(carol);
  members.delete(carol.communicationUserId);
  const after = (await c.pages("listParticipants (after remove)", aliceThread.listParticipants())).flat();
  c.equal(after.map((p) => p.id.communicationUserId).sort(), [...members].sort(), "listParticipants after remove");
  await c.expectStatus(403, "carol reads the thread after her removal", () =>
    carolChat.getChatThreadClient(thread.id).getProperties(),
  );

  // Typing and read receipts.
  c.call("sendTypingNotification");
  c.equal(await aliceThread.sendTypingNotification({ senderDisplayName: "Alice" }), true, "sendTypingNotification sent");
  c.call("sendReadReceipt");
  await bobThread.sendReadReceipt({ chatMessageId: toThree.id });
  const receipts = (await c.pages("listReadReceipts", aliceThread.listReadReceipts())).flat();
  const bobs = receipts.filter((r) => r.sender.communicationUserId === bob.communicationUserId);
  c.equal(bobs.map((r) => r.chatMessageId), [toThree.id], "listReadReceipts: bob's receipt");
  c.check(bobs[0].readOn instanceof Date, "listReadReceipts: readOn is a Date");

  // Errors.
  const e = await c.expectStatus(404, "getProperties of a missing thread", () =>
    aliceChat.getChatThreadClient(MISSING_THREAD).getProperties(),
  );
  c.check(typeof e.code === "string" && e.code.length > 0, "the 404 carries an error code");
  await c.expectStatus(404, "getMessage of a missing message", () => aliceThread.getMessage("1"));

  // Token revocation, then the thread and the users go.
  c.call("revokeTokens");
  await identity.revokeTokens(carol);
  await c.expectStatus(401, "a revoked token", async () => {
    for await (const _ of carolChat.listChatThreads()) {
      // reading is enough
    }
  });
  c.call("deleteChatThread");
  await aliceChat.deleteChatThread(thread.id);
  c.threadsDeleted.push(thread.id);
  await c.expectStatus(404, "getProperties of the deleted thread", () => aliceThread.getProperties());
  const gone = (await c.pages("listChatThreads (after delete)", bobChat.listChatThreads())).flat().filter((t) => t.id === thread.id);
  c.check(gone.every((t) => t.deletedOn instanceof Date), "listChatThreads lists the deleted thread, if at all, with deletedOn");
  c.call("deleteUser");
  await identity.deleteUser(carol);
  await c.expectStatus(404, "getToken for a deleted user", () => identity.getToken(carol, ["chat"]));
}

await run(new Checker("node"), flow);
