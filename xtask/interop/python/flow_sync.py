"""The full chat flow with the official Python SDK's sync clients (requests), trusting the
emulator's CA with `connection_verify`. Run by `cargo xtask interop`."""

import datetime
import uuid

from azure.communication.chat import (
    ChatClient,
    ChatMessageType,
    ChatParticipant,
    CommunicationTokenCredential,
)
from azure.communication.identity import (
    CommunicationIdentityClient,
    CommunicationTokenScope,
    CommunicationUserIdentifier,
)
from azure.core.exceptions import HttpResponseError

from common import Checker, env, expiry, run

MISSING_THREAD = "19:00000000000000000000000000000000@thread.v2"


def expect_status(c, status, what, fn):
    """Calls `fn`, which must raise HttpResponseError with `status`."""
    c.call(what)
    try:
        fn()
    except HttpResponseError as e:
        c.equal(e.status_code, status, f"{what}: the HttpResponseError's status")
        return e
    c.check(False, f"{what}: no HttpResponseError was raised (want {status})")


def flow(c):
    conn = env("ACS_INTEROP_CONNECTION_STRING")
    endpoint = env("ACS_INTEROP_ENDPOINT")
    ca = env("ACS_INTEROP_CA")

    # Identity: users and tokens.
    identity = CommunicationIdentityClient.from_connection_string(conn, connection_verify=ca)
    c.call("identity.create_user_and_token")
    alice, alice_token = identity.create_user_and_token([CommunicationTokenScope.CHAT])
    c.check(alice.raw_id.startswith("8:acs:"), f"alice's raw id {alice.raw_id!r} is an 8:acs: id")
    c.check(alice_token.token.count(".") == 2, "alice's token is a JWT")
    c.check(
        expiry(alice_token) > datetime.datetime.now(datetime.timezone.utc),
        "alice's token expires in the future",
    )
    c.call("identity.create_user")
    bob = identity.create_user()
    c.call("identity.get_token")
    bob_token = identity.get_token(
        bob, [CommunicationTokenScope.CHAT], token_expires_in=datetime.timedelta(hours=1)
    )
    life = expiry(bob_token) - datetime.datetime.now(datetime.timezone.utc)
    c.check(
        datetime.timedelta(minutes=55) < life <= datetime.timedelta(hours=1, minutes=1),
        f"bob's token lives about an hour (it lives {life})",
    )
    expect_status(
        c,
        400,
        "get_token for 30 minutes (below the 60 the service allows)",
        lambda: identity.get_token(bob, [CommunicationTokenScope.CHAT], token_expires_in=datetime.timedelta(minutes=30)),
    )
    c.call("identity.create_user (carol)")
    carol = identity.create_user()
    c.call("identity.get_token (carol)")
    carol_token = identity.get_token(carol, [CommunicationTokenScope.CHAT])

    alice_chat = ChatClient(endpoint, CommunicationTokenCredential(alice_token.token), connection_verify=ca)
    bob_chat = ChatClient(endpoint, CommunicationTokenCredential(bob_token.token), connection_verify=ca)
    carol_chat = ChatClient(endpoint, CommunicationTokenCredential(carol_token.token), connection_verify=ca)

    # Create a thread with two participants, twice with the same idempotency token.
    participants = [
        ChatParticipant(identifier=alice, display_name="Alice"),
        ChatParticipant(
            identifier=bob,
            display_name="Bob",
            share_history_time=datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc),
        ),
    ]
    token = str(uuid.uuid4())
    c.call("create_chat_thread")
    created = alice_chat.create_chat_thread(
        "Interop (Python sync)", thread_participants=participants, idempotency_token=token
    )
    c.check(not created.errors, f"create_chat_thread reported no invalid participants: {created.errors}")
    thread = created.chat_thread
    c.check(thread.id.startswith("19:"), f"the thread id {thread.id!r} is a 19: id")
    c.equal(thread.topic, "Interop (Python sync)", "the created thread's topic")
    c.equal(thread.created_by.raw_id, alice.raw_id, "the created thread's creator")
    c.threads_created.append(thread.id)
    c.call("create_chat_thread (same idempotency token)")
    again = alice_chat.create_chat_thread(
        "Interop (Python sync)", thread_participants=participants, idempotency_token=token
    )
    c.equal(again.chat_thread.id, thread.id, "the same idempotency token gives the same thread")
    members = {alice.raw_id, bob.raw_id}

    # get_chat_thread_client does not pass on the ChatClient's connection_verify: give it again.
    alice_thread = alice_chat.get_chat_thread_client(thread.id, connection_verify=ca)
    bob_thread = bob_chat.get_chat_thread_client(thread.id, connection_verify=ca)

    c.call("get_properties")
    props = alice_thread.get_properties()
    c.equal(props.id, thread.id, "get_properties: id")
    c.equal(props.topic, "Interop (Python sync)", "get_properties: topic")
    c.equal(props.created_by.raw_id, alice.raw_id, "get_properties: created_by")
    c.check(props.created_on is not None, "get_properties: created_on is set")

    c.call("update_topic")
    alice_thread.update_topic("Interop (Python sync), renamed")
    c.call("get_properties (after update_topic)")
    c.equal(
        bob_thread.get_properties().topic,
        "Interop (Python sync), renamed",
        "the topic bob sees after update_topic",
    )

    # Threads, listed one per page.
    seen = set()
    pages = 0
    for page in bob_chat.list_chat_threads(results_per_page=1).by_page():
        pages += 1
        c.call(f"list_chat_threads page {pages}")
        for item in page:
            seen.add(item.id)
            if item.id == thread.id:
                c.equal(item.topic, "Interop (Python sync), renamed", "list_chat_threads: topic")
    c.check(thread.id in seen, "list_chat_threads lists the thread")
    now = datetime.datetime.now(datetime.timezone.utc)
    c.call("list_chat_threads (start_time an hour ago)")
    c.check(
        thread.id in [t.id for t in bob_chat.list_chat_threads(start_time=now - datetime.timedelta(hours=1))],
        "list_chat_threads(start_time an hour ago) lists the thread",
    )
    c.call("list_chat_threads (start_time in an hour)")
    c.check(
        thread.id not in [t.id for t in bob_chat.list_chat_threads(start_time=now + datetime.timedelta(hours=1))],
        "list_chat_threads(start_time in an hour) does not list the thread",
    )

    # Messages: text, html, metadata.
    c.call("send_message (text)")
    text = alice_thread.send_message("hello from Python sync", sender_display_name="Alice")
    c.sent(thread.id, text.id, members - {alice.raw_id})
    c.call("send_message (html)")
    html = alice_thread.send_message(
        "<p>hello <b>html</b></p>", chat_message_type=ChatMessageType.HTML, sender_display_name="Alice"
    )
    c.sent(thread.id, html.id, members - {alice.raw_id})
    c.call("send_message (metadata)")
    meta = alice_thread.send_message(
        "with metadata", metadata={"tag": "interop", "n": "1"}, sender_display_name="Alice"
    )
    c.sent(thread.id, meta.id, members - {alice.raw_id})
    c.call("send_message (bob)")
    from_bob = bob_thread.send_message("hi Alice", sender_display_name="Bob")
    c.sent(thread.id, from_bob.id, members - {bob.raw_id})

    c.call("get_message (text)")
    got = bob_thread.get_message(text.id)
    c.equal(got.id, text.id, "get_message: id")
    c.equal(got.type, ChatMessageType.TEXT, "get_message: type")
    c.equal(got.content.message, "hello from Python sync", "get_message: content")
    c.equal(got.sender.raw_id, alice.raw_id, "get_message: sender")
    c.equal(got.sender_display_name, "Alice", "get_message: sender_display_name")
    c.check(got.created_on is not None and got.edited_on is None, "get_message: created, not edited")
    c.call("get_message (html)")
    c.equal(bob_thread.get_message(html.id).type, ChatMessageType.HTML, "the html message's type")
    c.call("get_message (metadata)")
    c.equal(bob_thread.get_message(meta.id).metadata, {"tag": "interop", "n": "1"}, "the message's metadata")

    c.call("update_message")
    alice_thread.update_message(text.id, content="edited from Python sync", metadata={"edited": "yes"})
    c.call("get_message (after update)")
    got = bob_thread.get_message(text.id)
    c.equal(got.content.message, "edited from Python sync", "the updated content")
    c.equal(got.metadata, {"edited": "yes"}, "the updated metadata")
    c.check(got.edited_on is not None, "the updated message has edited_on")
    expect_status(c, 403, "update_message of someone else's message", lambda: bob_thread.update_message(text.id, content="no"))

    c.call("delete_message")
    alice_thread.delete_message(meta.id)
    c.call("get_message (after delete)")
    c.check(bob_thread.get_message(meta.id).deleted_on is not None, "the deleted message has deleted_on")

    # More messages, then all of them two per page (nextLink paging).
    more = []
    for i in range(5):
        c.call(f"send_message (page filler {i})")
        sent = alice_thread.send_message(f"filler {i}")
        more.append(sent.id)
        c.sent(thread.id, sent.id, members - {alice.raw_id})
    listed = []
    pages = 0
    for page in bob_thread.list_messages(results_per_page=2).by_page():
        pages += 1
        c.call(f"list_messages page {pages}")
        page = list(page)
        c.check(len(page) <= 2, f"list_messages page {pages} has at most 2 messages ({len(page)})")
        listed.extend(page)
    c.check(pages >= 5, f"list_messages followed nextLink ({pages} pages)")
    ids = [m.id for m in listed]
    c.equal(len(ids), len(set(ids)), "list_messages lists each message once")
    for mid in [text.id, html.id, meta.id, from_bob.id, *more]:
        c.check(mid in ids, f"list_messages lists message {mid}")
    by_id = {m.id: m for m in listed}
    c.check(by_id[meta.id].deleted_on is not None, "list_messages shows the deleted message as deleted")
    c.equal(by_id[text.id].content.message, "edited from Python sync", "list_messages shows the edit")
    seqs = [int(m.sequence_id) for m in listed]
    c.equal(seqs, sorted(seqs, reverse=True), "list_messages lists the newest first")
    c.check(
        any(m.type == ChatMessageType.TOPIC_UPDATED for m in listed),
        "list_messages has the topicUpdated system message",
    )
    c.call("list_messages (start_time in an hour)")
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
    c.equal(list(bob_thread.list_messages(start_time=later)), [], "list_messages(start_time in an hour)")

    # Participants: add carol, list one per page, remove her.
    c.call("add_participants")
    failed = alice_thread.add_participants([ChatParticipant(identifier=carol, display_name="Carol")])
    c.equal(failed, [], "add_participants: no participant failed")
    members.add(carol.raw_id)
    c.call("send_message (carol is in)")
    to_three = alice_thread.send_message("hello Carol")
    c.sent(thread.id, to_three.id, members - {alice.raw_id})
    listed = []
    pages = 0
    for page in alice_thread.list_participants(results_per_page=1).by_page():
        pages += 1
        c.call(f"list_participants page {pages}")
        listed.extend(page)
    c.check(pages >= 3, f"list_participants followed nextLink ({pages} pages)")
    c.equal(
        sorted(p.identifier.raw_id for p in listed), sorted(members), "list_participants: who"
    )
    c.call("list_participants (skip 1)")
    c.equal(len(list(alice_thread.list_participants(skip=1))), len(members) - 1, "list_participants(skip=1)")
    names = {p.identifier.raw_id: p.display_name for p in listed}
    c.equal(names[carol.raw_id], "Carol", "list_participants: carol's display name")
    c.call("carol reads the thread")
    c.equal(carol_chat.get_chat_thread_client(thread.id, connection_verify=ca).get_message(to_three.id).content.message, "hello Carol", "carol reads her message")
    c.call("remove_participant")
    alice_thread.remove_participant(CommunicationUserIdentifier(carol.properties["id"]))
    members.discard(carol.raw_id)
    c.call("list_participants (after remove)")
    c.equal(
        sorted(p.identifier.raw_id for p in alice_thread.list_participants()),
        sorted(members),
        "list_participants after remove_participant",
    )
    expect_status(c, 403, "carol reads the thread after her removal", lambda: carol_chat.get_chat_thread_client(thread.id, connection_verify=ca).get_properties())

    # Typing and read receipts.
    c.call("send_typing_notification")
    alice_thread.send_typing_notification(sender_display_name="Alice")
    c.call("send_read_receipt")
    bob_thread.send_read_receipt(to_three.id)
    c.call("list_read_receipts")
    receipts = list(alice_thread.list_read_receipts())
    mine = [r for r in receipts if r.sender.raw_id == bob.raw_id]
    c.equal(len(mine), 1, "list_read_receipts: one receipt from bob")
    c.equal(mine[0].chat_message_id, to_three.id, "list_read_receipts: the message bob read")
    c.check(mine[0].read_on is not None, "list_read_receipts: read_on is set")

    # Errors.
    e = expect_status(c, 404, "get_properties of a missing thread", lambda: alice_chat.get_chat_thread_client(MISSING_THREAD, connection_verify=ca).get_properties())
    c.check(e.error is not None and e.error.code, "the 404 carries an error code")
    expect_status(c, 404, "get_message of a missing message", lambda: alice_thread.get_message("1"))

    # Token revocation, then the thread and the users go.
    c.call("revoke_tokens")
    identity.revoke_tokens(carol)
    expect_status(c, 401, "a revoked token", lambda: list(carol_chat.list_chat_threads()))
    c.call("delete_chat_thread")
    alice_chat.delete_chat_thread(thread.id)
    c.threads_deleted.append(thread.id)
    expect_status(c, 404, "get_properties of the deleted thread", lambda: alice_thread.get_properties())
    c.call("list_chat_threads (after delete)")
    gone = [t for t in bob_chat.list_chat_threads() if t.id == thread.id]
    c.check(
        all(t.deleted_on is not None for t in gone),
        "list_chat_threads lists the deleted thread, if at all, with deleted_on",
    )
    c.call("delete_user")
    identity.delete_user(carol)
    expect_status(c, 404, "get_token for a deleted user", lambda: identity.get_token(carol, [CommunicationTokenScope.CHAT]))


run(Checker("python-sync"), flow)
