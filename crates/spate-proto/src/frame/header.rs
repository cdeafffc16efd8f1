//! Prebuilt headers of the two delivery frames, for the server's fan-out:
//! it encodes a message body once and shares it among subscribers, writing
//! only these few bytes per subscriber.

use super::op;

/// The 9-byte header of a MESSAGE frame whose shared body is `body_len`
/// bytes: `[len][0x91][sub_id]`. The server writes this before the body it
/// shares among all subscribers. `body_len` is bounded by the frames the
/// server accepts; a length past `u32::MAX` saturates (never panics).
pub fn message_header(sub_id: u32, body_len: usize) -> [u8; 9] {
    let len = u32::try_from(1 + 4 + body_len).unwrap_or(u32::MAX);
    let mut h = [0u8; 9];
    h[..4].copy_from_slice(&len.to_be_bytes());
    h[4] = op::MESSAGE;
    h[5..].copy_from_slice(&sub_id.to_be_bytes());
    h
}

/// The 11-byte header of a MESSAGE_BATCH frame holding `count` entries
/// whose bodies total `bodies_len` bytes (each entry adds a u32 length).
/// A length past `u32::MAX` saturates (never panics).
pub fn message_batch_header(sub_id: u32, count: u16, bodies_len: usize) -> [u8; 11] {
    let len = (1 + 4 + 2 + 4 * count as usize).saturating_add(bodies_len);
    let len = u32::try_from(len).unwrap_or(u32::MAX);
    let mut h = [0u8; 11];
    h[..4].copy_from_slice(&len.to_be_bytes());
    h[4] = op::MESSAGE_BATCH;
    h[5..9].copy_from_slice(&sub_id.to_be_bytes());
    h[9..].copy_from_slice(&count.to_be_bytes());
    h
}
