//! The web view's HTML: server-rendered, every value from users escaped ([`escape`]).

use std::fmt::Write as _;

use acs_chat_protocol::models::{ChatMessage, ChatMessageType};

use crate::events::{DeliveryOutcome, SubscriptionState, SubscriptionStatus, redacted_url};
use crate::store::{Store, Thread};

/// Threads shown at most (the most recently active).
const MAX_THREADS: usize = 50;
/// Messages shown per thread at most (the newest).
const MAX_MESSAGES: usize = 50;
/// Participants and read receipts shown per thread at most.
const MAX_PARTICIPANTS: usize = 100;

/// `text` safe in HTML text and in quoted attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The whole page around `state` (the output of [`state`]).
pub(crate) fn page(state: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>ACS Chat emulator</title>\n<link rel=\"stylesheet\" href=\"app.css\">\n\
         <script src=\"app.js\" defer></script>\n</head>\n<body data-live=\"off\">\n\
         <header><h1>ACS Chat emulator</h1><span id=\"live\">not live (reload to update)</span></header>\n\
         <main id=\"state\">\n{state}</main>\n</body>\n</html>\n"
    )
}

/// Threads (participants, messages, read receipts) and webhook subscriptions (deliveries).
pub(crate) fn state(store: &Store, subscriptions: &[SubscriptionStatus]) -> String {
    let mut out = String::new();
    let mut threads: Vec<&Thread> = store.threads.values().collect();
    threads.sort_by(|a, b| {
        (b.last_message_received_on, &b.props.id).cmp(&(a.last_message_received_on, &a.props.id))
    });
    let _ = writeln!(out, "<h2>Threads ({})</h2>", threads.len());
    if !store.deleted_threads.is_empty() {
        let _ = writeln!(
            out,
            "<p class=\"note\">{} deleted thread(s) not shown.</p>",
            store.deleted_threads.len()
        );
    }
    if threads.is_empty() {
        out.push_str("<p class=\"note\">No threads yet.</p>\n");
    }
    if threads.len() > MAX_THREADS {
        let _ = writeln!(
            out,
            "<p class=\"note\">The {MAX_THREADS} most recently active are shown.</p>"
        );
    }
    for t in threads.iter().take(MAX_THREADS) {
        thread(&mut out, t);
    }
    let _ = writeln!(
        out,
        "<h2>Event subscriptions ({})</h2>",
        subscriptions.len()
    );
    if subscriptions.is_empty() {
        out.push_str(
            "<p class=\"note\">None: start the emulator with <code>--event-webhook URL</code>.</p>\n",
        );
    }
    for s in subscriptions {
        subscription(&mut out, s);
    }
    out
}

fn thread(out: &mut String, t: &Thread) {
    let p = &t.props;
    let name = |raw: &str| -> String {
        t.participant(raw)
            .and_then(|p| p.display_name.clone())
            .unwrap_or_else(|| raw.to_owned())
    };
    let _ = writeln!(
        out,
        "<section class=\"thread\">\n<h3 class=\"topic\">{}</h3>\n<p class=\"id\">{} · created {} by {}</p>",
        escape(&p.topic),
        escape(&p.id),
        p.created_on,
        escape(&name(&p.created_by_communication_identifier.raw_id()))
    );
    let _ = writeln!(
        out,
        "<table class=\"participants\"><tr><th>Participant ({})</th><th>Id</th><th>Read up to</th></tr>",
        t.participants.len()
    );
    for (raw, participant) in t.participants.iter().take(MAX_PARTICIPANTS) {
        let read = t
            .receipts
            .iter()
            .find(|(who, _)| who == raw)
            .map(|(_, r)| format!("{} at {}", escape(&r.chat_message_id), r.read_on))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"id\">{}</td><td class=\"time\">{read}</td></tr>",
            escape(participant.display_name.as_deref().unwrap_or("")),
            escape(raw)
        );
    }
    out.push_str("</table>\n");
    let shown = t.messages.len().min(MAX_MESSAGES);
    let _ = writeln!(
        out,
        "<table class=\"messages\"><tr><th>#</th><th>From</th><th>Message ({} of {})</th><th>Time</th></tr>",
        shown,
        t.messages.len()
    );
    for m in &t.messages[t.messages.len() - shown..] {
        let message = m.message();
        let from = match &m.sender {
            Some(raw) => escape(
                message
                    .sender_display_name
                    .as_deref()
                    .map_or_else(|| name(raw), str::to_owned)
                    .as_str(),
            ),
            None => "<span class=\"system\">system</span>".to_owned(),
        };
        let _ = writeln!(
            out,
            "<tr class=\"message\" data-id=\"{}\"><td class=\"id\">{}</td><td>{from}</td><td>{}</td><td class=\"time\">{}</td></tr>",
            escape(&message.id),
            escape(&message.sequence_id),
            content(message, &name),
            message.created_on
        );
    }
    out.push_str("</table>\n</section>\n");
}

fn content(m: &ChatMessage, name: &dyn Fn(&str) -> String) -> String {
    if let Some(deleted) = m.deleted_on {
        return format!(
            "<span class=\"deleted\">deleted</span> <span class=\"edited\">{deleted}</span>"
        );
    }
    let c = m.content.as_ref();
    let text = match &m.kind {
        ChatMessageType::TopicUpdated => format!(
            "<span class=\"system\">topic set to “{}”</span>",
            escape(c.and_then(|c| c.topic.as_deref()).unwrap_or(""))
        ),
        ChatMessageType::ParticipantAdded | ChatMessageType::ParticipantRemoved => {
            let who: Vec<String> = c
                .and_then(|c| c.participants.as_ref())
                .map(|ps| {
                    ps.iter()
                        .map(|p| {
                            p.display_name
                                .clone()
                                .unwrap_or_else(|| name(&p.communication_identifier.raw_id()))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let verb = if m.kind == ChatMessageType::ParticipantAdded {
                "added"
            } else {
                "removed"
            };
            format!(
                "<span class=\"system\">{verb}: {}</span>",
                escape(&who.join(", "))
            )
        }
        _ => {
            let kind = if m.kind == ChatMessageType::Html {
                " <span class=\"note\">(html, shown as text)</span>"
            } else {
                ""
            };
            format!(
                "<span class=\"content\">{}</span>{kind}",
                escape(c.and_then(|c| c.message.as_deref()).unwrap_or(""))
            )
        }
    };
    match m.edited_on {
        Some(edited) => format!("{text} <span class=\"edited\">edited {edited}</span>"),
        None => text,
    }
}

fn subscription(out: &mut String, s: &SubscriptionStatus) {
    let state = match &s.state {
        SubscriptionState::Validated => "validated".to_owned(),
        SubscriptionState::Validating {
            attempts,
            last_error,
        } => format!(
            "validating ({attempts} handshake(s) tried{})",
            last_error
                .as_deref()
                .map(|e| format!("; last: {}", escape(e)))
                .unwrap_or_default()
        ),
    };
    let _ = writeln!(
        out,
        "<section class=\"subscription\">\n<h3>{} <span class=\"id\">{} · {}</span></h3>\n\
         <p>{state} · {} queued · <span class=\"delivered\">{} delivered</span> · \
         <span class=\"dead\">{} dead-lettered</span></p>",
        escape(&s.name),
        escape(&redacted_url(&s.endpoint)),
        s.schema,
        s.queued,
        s.delivered,
        s.dead_lettered
    );
    if s.recent.is_empty() {
        out.push_str("<p class=\"note\">No deliveries yet.</p>\n</section>\n");
        return;
    }
    out.push_str("<table class=\"deliveries\"><tr><th>Event</th><th>Subject</th><th>Outcome</th><th>Time</th></tr>\n");
    for r in &s.recent {
        let outcome = match &r.outcome {
            DeliveryOutcome::Delivered { attempts } => {
                format!("<span class=\"delivered\">delivered</span> (attempt {attempts})")
            }
            DeliveryOutcome::Retrying { attempts, error } => format!(
                "<span class=\"retrying\">retrying</span> after {attempts} attempt(s): {}",
                escape(error)
            ),
            DeliveryOutcome::DeadLettered { attempts, reason } => format!(
                "<span class=\"dead\">dead-lettered</span> after {attempts} attempt(s): {}",
                escape(reason)
            ),
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"id\">{}</td><td>{outcome}</td><td class=\"time\">{}</td></tr>",
            escape(
                r.event_type
                    .strip_prefix("Microsoft.Communication.")
                    .unwrap_or(&r.event_type)
            ),
            escape(&r.subject),
            r.at
        );
    }
    out.push_str("</table>\n</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_html_gives_meaning_to() {
        assert_eq!(
            escape(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
    }
}
