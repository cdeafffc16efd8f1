//! The worked examples of protocol.md §17: every ```hex block, parsed
//! strictly (the format is documented in `protocol_examples.rs`). Shared
//! by the tests that check the examples against the codec and against
//! conformance/vectors.json, so there is one parser of that format.
#![allow(dead_code)]

/// One ```hex block of protocol.md.
pub struct Example {
    /// The example's id (`**Example `ID`**`).
    pub id: String,
    /// The frame the label names.
    pub frame_name: String,
    /// 1-based line of the opening fence, for messages.
    pub line: usize,
    /// The bytes of the block.
    pub bytes: Vec<u8>,
}

/// The text between the first `open` and the next `close` after it.
fn between<'a>(s: &'a str, open: &str, close: char) -> Option<&'a str> {
    let start = s.find(open)? + open.len();
    let len = s[start..].find(close)?;
    Some(&s[start..start + len])
}

fn parse_hex_line(line: &str, lineno: usize) -> Vec<u8> {
    let data = line.split('#').next().unwrap_or("");
    data.split_whitespace()
        .map(|tok| {
            assert!(
                tok.len() == 2,
                "protocol.md:{lineno}: {tok:?} is not one hex byte"
            );
            u8::from_str_radix(tok, 16)
                .unwrap_or_else(|_| panic!("protocol.md:{lineno}: {tok:?} is not hex"))
        })
        .collect()
}

/// Extracts every example, enforcing the format documented above.
pub fn examples(doc: &str) -> Vec<Example> {
    let lines: Vec<&str> = doc.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim_end() != "```hex" {
            i += 1;
            continue;
        }
        let fence = i + 1;
        let label = lines[..i]
            .iter()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_else(|| panic!("protocol.md:{fence}: hex block without a label line"));
        assert!(
            label.starts_with("**Example `"),
            "protocol.md:{fence}: the line before a hex block must start with **Example `ID`**, found {label:?}"
        );
        let id = between(label, "**Example `", '`').expect("example id");
        let frame_name = between(label, "frame `", '`')
            .unwrap_or_else(|| panic!("protocol.md:{fence}: label names no frame `NAME`"));
        let mut bytes = Vec::new();
        i += 1;
        while i < lines.len() && lines[i].trim_end() != "```" {
            bytes.extend(parse_hex_line(lines[i], i + 1));
            i += 1;
        }
        assert!(
            i < lines.len(),
            "protocol.md:{fence}: unterminated hex block"
        );
        out.push(Example {
            id: id.to_string(),
            frame_name: frame_name.to_string(),
            line: fence,
            bytes,
        });
        i += 1;
    }
    out
}
