"""Persistence, before the restart: a thread with two users and messages, and the tokens, handed
over in ACS_INTEROP_STATE to the checks that run after the emulator was killed (SIGKILL) and
started again on the same data directory."""

import json

from azure.communication.chat import ChatClient, ChatParticipant, CommunicationTokenCredential
from azure.communication.identity import CommunicationIdentityClient, CommunicationTokenScope

from common import Checker, env, run

MESSAGES = ["kept 1", "kept 2", "<p>kept 3</p>"]


def flow(c):
    ca = env("ACS_INTEROP_CA")
    identity = CommunicationIdentityClient.from_connection_string(
        env("ACS_INTEROP_CONNECTION_STRING"), connection_verify=ca
    )
    c.call("identity.create_user_and_token (alice)")
    alice, alice_token = identity.create_user_and_token([CommunicationTokenScope.CHAT])
    c.call("identity.create_user_and_token (bob)")
    bob, bob_token = identity.create_user_and_token([CommunicationTokenScope.CHAT])
    chat = ChatClient(env("ACS_INTEROP_ENDPOINT"), CommunicationTokenCredential(alice_token.token), connection_verify=ca)
    c.call("create_chat_thread")
    created = chat.create_chat_thread(
        "Kept across a kill",
        thread_participants=[ChatParticipant(identifier=alice, display_name="Alice"), ChatParticipant(identifier=bob, display_name="Bob")],
    )
    thread = created.chat_thread
    c.threads_created.append(thread.id)
    thread_client = chat.get_chat_thread_client(thread.id, connection_verify=ca)
    ids = []
    for i, content in enumerate(MESSAGES):
        c.call(f"send_message {i + 1}")
        kind = "html" if content.startswith("<") else "text"
        sent = thread_client.send_message(content, chat_message_type=kind, metadata={"i": str(i)})
        ids.append(sent.id)
        c.sent(thread.id, sent.id, [bob.raw_id])
    c.call("send_read_receipt")
    chat_bob = ChatClient(env("ACS_INTEROP_ENDPOINT"), CommunicationTokenCredential(bob_token.token), connection_verify=ca)
    chat_bob.get_chat_thread_client(thread.id, connection_verify=ca).send_read_receipt(ids[-1])
    c.call("list_messages")
    c.check(
        all(i in [m.id for m in thread_client.list_messages()] for i in ids),
        "the messages are listed before the restart",
    )
    state = {
        "threadId": thread.id,
        "topic": "Kept across a kill",
        "alice": {"id": alice.properties["id"], "rawId": alice.raw_id, "token": alice_token.token},
        "bob": {"id": bob.properties["id"], "rawId": bob.raw_id, "token": bob_token.token},
        "messages": [{"id": i, "content": m} for i, m in zip(ids, MESSAGES)],
    }
    with open(env("ACS_INTEROP_STATE"), "w", encoding="utf-8") as f:
        json.dump(state, f)


run(Checker("python-persist-write"), flow)
