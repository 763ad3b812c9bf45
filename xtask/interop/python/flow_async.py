"""The full chat flow with the official Python SDK's async clients (aiohttp), which trust the
emulator's CA through SSL_CERT_FILE (set by `cargo xtask interop`) and send raw `8:acs:` ids in
paths."""

import asyncio
import datetime
import uuid

from azure.communication.chat import ChatMessageType, ChatParticipant
from azure.communication.chat.aio import ChatClient, CommunicationTokenCredential
from azure.communication.identity import CommunicationTokenScope
from azure.communication.identity.aio import CommunicationIdentityClient
from azure.core.exceptions import HttpResponseError

from common import Checker, env, expiry, run

MISSING_THREAD = "19:00000000000000000000000000000000@thread.v2"


async def expect_status(c, status, what, make):
    """Awaits `make()`, which must raise HttpResponseError with `status`."""
    c.call(what)
    try:
        await make()
    except HttpResponseError as e:
        c.equal(e.status_code, status, f"{what}: the HttpResponseError's status")
        return e
    c.check(False, f"{what}: no HttpResponseError was raised (want {status})")


async def pages_of(c, what, pager):
    """Every page of an async pager, as lists, counting one call per page."""
    pages = []
    async for page in pager.by_page():
        c.call(f"{what} page {len(pages) + 1}")
        pages.append([item async for item in page])
    return pages


async def flow(c):
    conn = env("ACS_INTEROP_CONNECTION_STRING")
    endpoint = env("ACS_INTEROP_ENDPOINT")

    async with CommunicationIdentityClient.from_connection_string(conn) as identity:
        c.call("identity.create_user_and_token")
        alice, alice_token = await identity.create_user_and_token([CommunicationTokenScope.CHAT])
        c.check(alice.raw_id.startswith("8:acs:"), f"alice's raw id {alice.raw_id!r} is an 8:acs: id")
        c.call("identity.create_user")
        bob = await identity.create_user()
        c.call("identity.get_token")
        bob_token = await identity.get_token(
            bob, [CommunicationTokenScope.CHAT], token_expires_in=datetime.timedelta(minutes=90)
        )
        life = expiry(bob_token) - datetime.datetime.now(datetime.timezone.utc)
        c.check(
            datetime.timedelta(minutes=85) < life <= datetime.timedelta(minutes=91),
            f"bob's token lives about 90 minutes (it lives {life})",
        )
        c.call("identity.create_user (carol)")
        carol = await identity.create_user()
        c.call("identity.get_token (carol)")
        carol_token = await identity.get_token(carol, [CommunicationTokenScope.CHAT])

        alice_chat = ChatClient(endpoint, CommunicationTokenCredential(alice_token.token))
        bob_chat = ChatClient(endpoint, CommunicationTokenCredential(bob_token.token))
        carol_chat = ChatClient(endpoint, CommunicationTokenCredential(carol_token.token))
        async with alice_chat, bob_chat, carol_chat:
            await chat_flow(c, identity, alice_chat, bob_chat, carol_chat, alice, bob, carol)


async def chat_flow(c, identity, alice_chat, bob_chat, carol_chat, alice, bob, carol):
    participants = [
        ChatParticipant(identifier=alice, display_name="Alice"),
        ChatParticipant(identifier=bob, display_name="Bob"),
    ]
    token = str(uuid.uuid4())
    c.call("create_chat_thread")
    created = await alice_chat.create_chat_thread(
        "Interop (Python async)", thread_participants=participants, idempotency_token=token
    )
    c.check(not created.errors, f"create_chat_thread reported no invalid participants: {created.errors}")
    thread = created.chat_thread
    c.threads_created.append(thread.id)
    c.call("create_chat_thread (same idempotency token)")
    again = await alice_chat.create_chat_thread(
        "Interop (Python async)", thread_participants=participants, idempotency_token=token
    )
    c.equal(again.chat_thread.id, thread.id, "the same idempotency token gives the same thread")
    members = {alice.raw_id, bob.raw_id}

    async with alice_chat.get_chat_thread_client(thread.id) as alice_thread, bob_chat.get_chat_thread_client(thread.id) as bob_thread:
        await thread_flow(c, identity, alice_chat, bob_chat, carol_chat, alice_thread, bob_thread, thread, members, alice, bob, carol)


async def thread_flow(c, identity, alice_chat, bob_chat, carol_chat, alice_thread, bob_thread, thread, members, alice, bob, carol):
    c.call("get_properties")
    props = await bob_thread.get_properties()
    c.equal(props.topic, "Interop (Python async)", "get_properties: topic")
    c.equal(props.created_by.raw_id, alice.raw_id, "get_properties: created_by")
    c.call("update_topic")
    await alice_thread.update_topic("Interop (Python async), renamed")
    c.call("get_properties (after update_topic)")
    c.equal((await bob_thread.get_properties()).topic, "Interop (Python async), renamed", "the updated topic")

    pages = await pages_of(c, "list_chat_threads", bob_chat.list_chat_threads(results_per_page=1))
    c.check(thread.id in [t.id for page in pages for t in page], "list_chat_threads lists the thread")

    c.call("send_message (text)")
    text = await alice_thread.send_message("hello from Python async", sender_display_name="Alice")
    c.sent(thread.id, text.id, members - {alice.raw_id})
    c.call("send_message (html)")
    html = await alice_thread.send_message("<p>async <i>html</i></p>", chat_message_type=ChatMessageType.HTML)
    c.sent(thread.id, html.id, members - {alice.raw_id})
    c.call("send_message (metadata)")
    meta = await bob_thread.send_message("async metadata", metadata={"k": "v"})
    c.sent(thread.id, meta.id, members - {bob.raw_id})

    c.call("get_message")
    got = await bob_thread.get_message(text.id)
    c.equal(got.content.message, "hello from Python async", "get_message: content")
    c.equal(got.sender.raw_id, alice.raw_id, "get_message: sender")
    c.equal(got.sender_display_name, "Alice", "get_message: sender_display_name")
    c.call("get_message (html)")
    c.equal((await alice_thread.get_message(html.id)).type, ChatMessageType.HTML, "the html message's type")
    c.call("get_message (metadata)")
    c.equal((await alice_thread.get_message(meta.id)).metadata, {"k": "v"}, "the message's metadata")

    c.call("update_message")
    await alice_thread.update_message(text.id, content="edited from Python async")
    c.call("get_message (after update)")
    got = await bob_thread.get_message(text.id)
    c.equal(got.content.message, "edited from Python async", "the updated content")
    c.check(got.edited_on is not None, "the updated message has edited_on")
    c.call("delete_message")
    await bob_thread.delete_message(meta.id)
    c.call("get_message (after delete)")
    c.check((await alice_thread.get_message(meta.id)).deleted_on is not None, "the deleted message has deleted_on")

    more = []
    for i in range(4):
        c.call(f"send_message (page filler {i})")
        sent = await alice_thread.send_message(f"async filler {i}")
        more.append(sent.id)
        c.sent(thread.id, sent.id, members - {alice.raw_id})
    pages = await pages_of(c, "list_messages", bob_thread.list_messages(results_per_page=3))
    c.check(len(pages) >= 3, f"list_messages followed nextLink ({len(pages)} pages)")
    c.check(all(len(p) <= 3 for p in pages), "list_messages pages have at most 3 messages")
    ids = [m.id for page in pages for m in page]
    c.equal(len(ids), len(set(ids)), "list_messages lists each message once")
    for mid in [text.id, html.id, meta.id, *more]:
        c.check(mid in ids, f"list_messages lists message {mid}")

    c.call("add_participants")
    failed = await alice_thread.add_participants([ChatParticipant(identifier=carol, display_name="Carol")])
    c.equal(failed, [], "add_participants: no participant failed")
    members.add(carol.raw_id)
    c.call("send_message (carol is in)")
    to_three = await bob_thread.send_message("hello Carol, from Bob")
    c.sent(thread.id, to_three.id, members - {bob.raw_id})
    pages = await pages_of(c, "list_participants", alice_thread.list_participants(results_per_page=2))
    c.check(len(pages) >= 2, f"list_participants followed nextLink ({len(pages)} pages)")
    c.equal(sorted(p.identifier.raw_id for page in pages for p in page), sorted(members), "list_participants: who")
    c.call("remove_participant")
    await alice_thread.remove_participant(carol)
    members.discard(carol.raw_id)
    pages = await pages_of(c, "list_participants (after remove)", alice_thread.list_participants())
    c.equal(sorted(p.identifier.raw_id for page in pages for p in page), sorted(members), "list_participants after remove")

    c.call("send_typing_notification")
    await bob_thread.send_typing_notification(sender_display_name="Bob")
    c.call("send_read_receipt")
    await alice_thread.send_read_receipt(to_three.id)
    pages = await pages_of(c, "list_read_receipts", bob_thread.list_read_receipts())
    receipts = [r for page in pages for r in page if r.sender.raw_id == alice.raw_id]
    c.equal([r.chat_message_id for r in receipts], [to_three.id], "list_read_receipts: alice's receipt")

    async def missing_thread():
        async with alice_chat.get_chat_thread_client(MISSING_THREAD) as missing:
            await missing.get_properties()

    e = await expect_status(c, 404, "get_properties of a missing thread", missing_thread)
    c.check(e.error is not None and e.error.code, "the 404 carries an error code")

    c.call("revoke_tokens")
    await identity.revoke_tokens(carol)

    async def list_threads_as_carol():
        return [t async for t in carol_chat.list_chat_threads()]

    await expect_status(c, 401, "a revoked token", list_threads_as_carol)
    c.call("delete_chat_thread")
    await alice_chat.delete_chat_thread(thread.id)
    c.threads_deleted.append(thread.id)
    await expect_status(c, 404, "get_properties of the deleted thread", alice_thread.get_properties)
    c.call("delete_user")
    await identity.delete_user(carol)


def body(c):
    asyncio.run(flow(c))


run(Checker("python-async"), body)
