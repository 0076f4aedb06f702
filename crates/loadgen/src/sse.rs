//! Incremental server-sent-events parser and OpenAI stream chunk decoding.
//!
//! Bytes arrive in arbitrary pieces; [`SseParser::feed`] keeps an unfinished line between calls
//! and hands every complete event's `data` to a callback. Lines end with `\n` or `\r\n`; lines
//! starting with `:` are comments; fields other than `data` are ignored; several `data` lines in
//! one event are joined with `\n`; an event ends at a blank line. An unfinished event at the end
//! of the stream is dropped, as the SSE specification says. An event (its unfinished line and
//! data together) larger than [`MAX_EVENT`] stops the parser: [`SseParser::overflowed`] then
//! says so and the request fails, so a server that never ends a line cannot exhaust memory.

use std::borrow::Cow;

use serde::Deserialize;

use crate::http1::prefault;

/// Largest server-sent event accepted (its unfinished line and data together), 16 MiB: a
/// streamed chunk of one or a few tokens is well under a kilobyte.
pub(crate) const MAX_EVENT: usize = 16 << 20;

/// Incremental SSE parser; reuse one per connection with [`SseParser::reset`].
#[derive(Debug, Default)]
pub(crate) struct SseParser {
    /// The unfinished line carried over from the previous `feed`.
    partial: Vec<u8>,
    /// The data of the event being built.
    data: Vec<u8>,
    has_data: bool,
    /// An event grew past [`MAX_EVENT`]; the rest of the stream is ignored.
    overflow: bool,
}

impl SseParser {
    /// A parser with its buffers allocated and touched (see [`prefault`]).
    pub(crate) fn new() -> Self {
        let ready = |n: usize| {
            let mut v = vec![0; n];
            prefault(&mut v);
            v.clear();
            v
        };
        Self {
            partial: ready(4 * 1024),
            data: ready(4 * 1024),
            has_data: false,
            overflow: false,
        }
    }

    /// Whether an event grew past [`MAX_EVENT`] (the stream is then not read further).
    pub(crate) fn overflowed(&self) -> bool {
        self.overflow
    }

    /// Forgets any state of a previous stream, keeping the buffers.
    pub(crate) fn reset(&mut self) {
        self.partial.clear();
        self.data.clear();
        self.has_data = false;
        self.overflow = false;
    }

    /// Feeds one piece of the stream, calling `on_event` with the data of each completed event.
    pub(crate) fn feed(&mut self, mut bytes: &[u8], on_event: &mut impl FnMut(&[u8])) {
        if self.overflow {
            return;
        }
        while let Some(pos) = memchr::memchr(b'\n', bytes) {
            let (line, rest) = bytes.split_at(pos);
            bytes = rest.get(1..).unwrap_or_default();
            // Fast path, once per streamed token: a lone `data` line whose blank line follows in
            // the same piece is handed over in place, without copying it into `data`.
            if self.partial.is_empty() && !self.has_data {
                let blank = match bytes {
                    [b'\n', ..] => 1,
                    [b'\r', b'\n', ..] => 2,
                    _ => 0,
                };
                if blank > 0
                    && let (b"data", value) = field_value(line)
                {
                    on_event(value);
                    bytes = bytes.get(blank..).unwrap_or_default();
                    continue;
                }
            }
            if self.partial.is_empty() {
                self.line(line, on_event);
            } else {
                let mut partial = std::mem::take(&mut self.partial);
                partial.extend_from_slice(line);
                self.line(&partial, on_event);
                partial.clear();
                self.partial = partial;
            }
        }
        self.partial.extend_from_slice(bytes);
        if self.partial.len() + self.data.len() > MAX_EVENT {
            self.overflow = true;
            self.partial = Vec::new();
            self.data = Vec::new();
            self.has_data = false;
        }
    }

    fn line(&mut self, line: &[u8], on_event: &mut impl FnMut(&[u8])) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            if self.has_data {
                on_event(&self.data);
                self.data.clear();
                self.has_data = false;
            }
            return;
        }
        if line.first() == Some(&b':') {
            return;
        }
        let (field, value) = field_value(line);
        if field == b"data" {
            if self.has_data {
                self.data.push(b'\n');
            }
            self.data.extend_from_slice(value);
            self.has_data = true;
        }
    }
}

/// Splits a non-comment line into its field name and value (one leading space dropped, a
/// trailing `\r` too).
fn field_value(line: &[u8]) -> (&[u8], &[u8]) {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    match memchr::memchr(b':', line) {
        Some(i) => {
            let (f, v) = line.split_at(i);
            let v = v.get(1..).unwrap_or_default();
            (f, v.strip_prefix(b" ").unwrap_or(v))
        }
        None => (line, &b""[..]),
    }
}

/// What one decoded stream event says.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct ChunkInfo<'a> {
    /// The event carried at least one choice (vLLM counts such a chunk as a token arrival).
    pub(crate) has_choice: bool,
    /// Text of the first choice (`text`, or `delta.content` / `delta.reasoning_content`).
    pub(crate) text: Option<Cow<'a, str>>,
    /// `usage.prompt_tokens`.
    pub(crate) prompt_tokens: Option<u64>,
    /// `usage.completion_tokens`.
    pub(crate) completion_tokens: Option<u64>,
    /// `usage.prompt_tokens_details.cached_tokens` (prompt tokens the server's prefix cache held).
    pub(crate) cached_tokens: Option<u64>,
    /// The event reported an error object.
    pub(crate) error: bool,
}

#[derive(Deserialize)]
struct RawChunk<'a> {
    #[serde(borrow, default)]
    choices: Option<FirstChoice<'a>>,
    #[serde(default)]
    usage: Option<RawUsage>,
    #[serde(default)]
    error: Option<serde::de::IgnoredAny>,
}

/// The first element of `choices`; the rest are skipped without allocating (this runs once per
/// streamed token).
struct FirstChoice<'a>(Option<RawChoice<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for FirstChoice<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visit<'a> {
            type Value = FirstChoice<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of choices")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                let first = seq.next_element::<RawChoice<'a>>()?;
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(FirstChoice(first))
            }
        }
        d.deserialize_seq(Visit(std::marker::PhantomData))
    }
}

#[derive(Deserialize)]
struct RawChoice<'a> {
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    delta: Option<RawMessage<'a>>,
    #[serde(borrow, default)]
    message: Option<RawMessage<'a>>,
}

#[derive(Deserialize)]
struct RawMessage<'a> {
    #[serde(borrow, default)]
    content: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    reasoning_content: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RawUsage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
    #[serde(default)]
    prompt_tokens_details: Option<RawPromptDetails>,
}

#[derive(Deserialize)]
struct RawPromptDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
}

/// Decodes a completion (streamed chunk or whole response) of either OpenAI API.
pub(crate) fn decode_chunk(data: &[u8]) -> Result<ChunkInfo<'_>, serde_json::Error> {
    let raw: RawChunk<'_> = serde_json::from_slice(data)?;
    let mut info = ChunkInfo {
        error: raw.error.is_some(),
        ..ChunkInfo::default()
    };
    if let Some(usage) = raw.usage {
        info.prompt_tokens = usage.prompt_tokens;
        info.completion_tokens = usage.completion_tokens;
        info.cached_tokens = usage.prompt_tokens_details.and_then(|d| d.cached_tokens);
    }
    if let Some(FirstChoice(Some(first))) = raw.choices {
        info.has_choice = true;
        info.text = first.text.or_else(|| {
            first
                .delta
                .or(first.message)
                .and_then(|m| m.content.or(m.reasoning_content))
        });
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn events_of(pieces: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        for piece in pieces {
            p.feed(piece, &mut |e| out.push(e.to_vec()));
        }
        out
    }

    #[test]
    fn parses_openai_stream() {
        let s = b"data: {\"a\":1}\n\ndata: {\"b\":2}\r\n\r\n: keep-alive\n\ndata: [DONE]\n\n";
        assert_eq!(
            events_of(&[s]),
            vec![
                b"{\"a\":1}".to_vec(),
                b"{\"b\":2}".to_vec(),
                b"[DONE]".to_vec()
            ]
        );
    }

    #[test]
    fn joins_multi_line_data_and_ignores_other_fields() {
        let s = b"event: x\nid: 3\ndata: one\ndata:two\ndata\n\nretry: 5\n\n";
        assert_eq!(events_of(&[s]), vec![b"one\ntwo\n".to_vec()]);
    }

    #[test]
    fn drops_unfinished_event_and_keeps_split_lines() {
        assert_eq!(
            events_of(&[b"da", b"ta: x", b"y\n", b"\n", b"data: z\n"]),
            vec![b"xy".to_vec()]
        );
    }

    /// An event that never ends (no newline, or data lines without the blank line) stops the
    /// parser at [`MAX_EVENT`] instead of growing without bound; `reset` clears it.
    #[test]
    fn endless_events_are_capped() {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        let piece = vec![b'x'; 1 << 20];
        p.feed(b"data: ", &mut |e| out.push(e.to_vec()));
        for _ in 0..(MAX_EVENT >> 20) + 1 {
            p.feed(&piece, &mut |e| out.push(e.to_vec()));
        }
        assert!(p.overflowed());
        assert!(p.partial.capacity() < 1 << 20, "buffers freed");
        p.feed(b"\n\ndata: y\n\n", &mut |e| out.push(e.to_vec()));
        assert!(out.is_empty(), "nothing after the overflow");
        p.reset();
        let line = [&b"data: "[..], &[b'x'; 1000], b"\n"].concat();
        let lines = line.repeat(MAX_EVENT / 1000 + 1);
        p.feed(&lines, &mut |e| out.push(e.to_vec()));
        assert!(p.overflowed(), "data lines without a blank line");
        p.reset();
        p.feed(b"data: y\n\n", &mut |e| out.push(e.to_vec()));
        assert_eq!(out, vec![b"y".to_vec()]);
    }

    #[test]
    fn reset_forgets_state() {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        p.feed(b"data: half", &mut |e| out.push(e.to_vec()));
        p.reset();
        p.feed(b"data: new\n\n", &mut |e| out.push(e.to_vec()));
        assert_eq!(out, vec![b"new".to_vec()]);
    }

    #[test]
    fn decodes_completions_chat_usage_and_errors() {
        let c =
            decode_chunk(br#"{"choices":[{"index":0,"text":"hi","logprobs":null}],"usage":null}"#)
                .unwrap();
        assert!(c.has_choice);
        assert_eq!(c.text.as_deref(), Some("hi"));
        let c = decode_chunk(br#"{"choices":[{"delta":{"role":"assistant","content":"a\"b"}}]}"#)
            .unwrap();
        assert_eq!(c.text.as_deref(), Some("a\"b"));
        let c = decode_chunk(br#"{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}}"#)
            .unwrap();
        assert!(!c.has_choice);
        assert_eq!((c.prompt_tokens, c.completion_tokens), (Some(5), Some(7)));
        assert_eq!(c.cached_tokens, None);
        let c = decode_chunk(br#"{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":7,"prompt_tokens_details":{"cached_tokens":4}}}"#)
            .unwrap();
        assert_eq!(c.cached_tokens, Some(4));
        let c = decode_chunk(
            br#"{"choices":[],"usage":{"prompt_tokens":5,"prompt_tokens_details":null}}"#,
        )
        .unwrap();
        assert_eq!(c.cached_tokens, None);
        let c = decode_chunk(br#"{"choices":[{"message":{"content":"whole"}}]}"#).unwrap();
        assert_eq!(c.text.as_deref(), Some("whole"));
        assert!(
            decode_chunk(br#"{"error":{"message":"boom"}}"#)
                .unwrap()
                .error
        );
        assert!(decode_chunk(b"not json").is_err());
        // Only the first of several choices counts; null and missing choices carry none.
        let c = decode_chunk(br#"{"choices":[{"text":"one"},{"text":"two"},3]}"#).unwrap();
        assert!(c.has_choice);
        assert_eq!(c.text.as_deref(), Some("one"));
        assert!(!decode_chunk(br#"{"choices":null}"#).unwrap().has_choice);
        assert!(!decode_chunk(br#"{"id":"x"}"#).unwrap().has_choice);
        assert!(decode_chunk(br#"{"choices":{"text":"x"}}"#).is_err());
    }

    proptest! {
        /// Splitting a stream anywhere never changes the events.
        #[test]
        fn split_points_do_not_matter(
            events in prop::collection::vec("[a-zA-Z0-9 {}\":,\\[\\]]{0,40}", 0..20),
            crlf in any::<bool>(),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..10),
        ) {
            let nl: &[u8] = if crlf { b"\r\n" } else { b"\n" };
            let mut stream = Vec::new();
            for e in &events {
                stream.extend_from_slice(b"data: ");
                stream.extend_from_slice(e.as_bytes());
                stream.extend_from_slice(nl);
                stream.extend_from_slice(nl);
            }
            let whole = events_of(&[&stream]);
            let expected: Vec<Vec<u8>> = events.iter().map(|e| e.as_bytes().to_vec()).collect();
            prop_assert_eq!(&whole, &expected);
            let mut points: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
            points.sort_unstable();
            let mut pieces: Vec<&[u8]> = Vec::new();
            let mut last = 0;
            for p in points {
                pieces.push(&stream[last..p]);
                last = p;
            }
            pieces.push(&stream[last..]);
            prop_assert_eq!(events_of(&pieces), whole);
        }

        /// Any mix of data lines, comments, other fields and blank lines gives the same events
        /// fed whole (where lone data lines take the in-place fast path) as fed a byte at a time
        /// (where they never can).
        #[test]
        fn fast_path_matches_line_by_line(
            lines in prop::collection::vec(
                prop_oneof![
                    "data: [a-z{}\":]{0,12}",
                    "data:[a-z ]{0,6}",
                    Just("data".to_owned()),
                    ": [a-z]{0,5}",
                    "(event|id|retry): [a-z0-9]{0,5}",
                    Just(String::new()),
                ],
                0..30,
            ),
            crlf in prop::collection::vec(any::<bool>(), 30),
        ) {
            let mut stream = Vec::new();
            for (i, l) in lines.iter().enumerate() {
                stream.extend_from_slice(l.as_bytes());
                let nl: &[u8] = if crlf.get(i).copied().unwrap_or(false) { b"\r\n" } else { b"\n" };
                stream.extend_from_slice(nl);
            }
            let bytes: Vec<&[u8]> = stream.chunks(1).collect();
            prop_assert_eq!(events_of(&[&stream]), events_of(&bytes));
        }

        /// Arbitrary bytes never panic the parser or the decoder.
        #[test]
        fn never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            let mut p = SseParser::new();
            p.feed(&bytes, &mut |e| { let _ = decode_chunk(e); });
        }
    }
}
