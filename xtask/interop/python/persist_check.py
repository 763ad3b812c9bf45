"""Persistence, after the restart: with the CA file and the tokens from before the kill, the
thread, its messages, participants and read receipt are all there, and the thread goes on.

The CA is trusted the other documented way here: REQUESTS_CA_BUNDLE (set by `cargo xtask
interop` to the CA file saved before the kill), without connection_verify."""

import json

from azure.communication.chat import ChatClient, CommunicationTokenCredential
from azure.communication.identity import (
    CommunicationIdentityClient,
    CommunicationTokenScope,
    CommunicationUserIdentifier,
)

from common import Checker, env, run


def flow(c):
    env("REQUESTS_CA_BUNDLE")
    with open(env("ACS_INTEROP_STATE"), encoding="utf-8") as f:
        state = json.load(f)
    endpoint = env("ACS_INTEROP_ENDPOINT")
    alice = ChatClient(endpoint, CommunicationTokenCredential(state["alice"]["token"]))
    bob = ChatClient(endpoint, CommunicationTokenCredential(state["bob"]["token"]))
    thread_id = state["threadId"]
    alice_thread = alice.get_chat_thread_client(thread_id)
    bob_thread = bob.get_chat_thread_client(thread_id)

    c.call("get_properties (token from before the restart)")
    c.equal(alice_thread.get_properties().topic, state["topic"], "the kept thread's topic")
    c.call("list_chat_threads")
    c.check(thread_id in [t.id for t in bob.list_chat_threads()], "bob still lists the thread")
    listed = []
    for n, page in enumerate(bob_thread.list_messages(results_per_page=2).by_page(), 1):
        c.call(f"list_messages page {n}")
        listed.extend(page)
    contents = {m.id: m.content.message for m in listed}
    for m in state["messages"]:
        c.equal(contents.get(m["id"]), m["content"], f"kept message {m['id']}")
    c.call("get_message")
    got = bob_thread.get_message(state["messages"][0]["id"])
    c.equal(got.sender.raw_id, state["alice"]["rawId"], "the kept message's sender")
    c.equal(got.metadata, {"i": "0"}, "the kept message's metadata")
    c.call("list_participants")
    c.equal(
        sorted(p.identifier.raw_id for p in alice_thread.list_participants()),
        sorted([state["alice"]["rawId"], state["bob"]["rawId"]]),
        "the kept participants",
    )
    c.call("list_read_receipts")
    receipts = [(r.sender.raw_id, r.chat_message_id) for r in alice_thread.list_read_receipts()]
    c.check(
        (state["bob"]["rawId"], state["messages"][-1]["id"]) in receipts,
        f"bob's kept read receipt (receipts: {len(receipts)})",
    )
    c.call("send_message (after the restart)")
    sent = bob_thread.send_message("after the restart, from Python")
    c.sent(thread_id, sent.id, [state["alice"]["rawId"]])
    state["messages"].append({"id": sent.id, "content": "after the restart, from Python"})
    # The identity service kept its users too.
    identity = CommunicationIdentityClient.from_connection_string(env("ACS_INTEROP_CONNECTION_STRING"))
    c.call("identity.get_token (kept user)")
    token = identity.get_token(CommunicationUserIdentifier(state["alice"]["id"]), [CommunicationTokenScope.CHAT])
    fresh = ChatClient(endpoint, CommunicationTokenCredential(token.token))
    c.call("get_message (fresh token)")
    c.equal(fresh.get_chat_thread_client(thread_id).get_message(sent.id).content.message, "after the restart, from Python", "a fresh token reads the new message")
    with open(env("ACS_INTEROP_STATE"), "w", encoding="utf-8") as f:
        json.dump(state, f)


run(Checker("python-persist-check"), flow)
