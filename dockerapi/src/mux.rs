//! Docker's multiplexed stream framing (`application/vnd.docker.multiplexed-stream`): each
//! chunk of a container's output without a terminal is an 8-byte header (the stream: 0 stdin,
//! 1 stdout, 2 stderr; three zero bytes; the length, big-endian u32) and the bytes.

/// Which stream a chunk belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    Stdout = 1,
    Stderr = 2,
}

/// `data` framed for `stream` (split into frames of at most `u32::MAX` bytes).
pub(crate) fn frame(stream: Stream, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 8);
    for chunk in data.chunks(u32::MAX as usize) {
        let len = u32::try_from(chunk.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&[stream as u8, 0, 0, 0]);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(chunk);
    }
    out
}

/// The bytes to send for a chunk: framed, or as they are on a terminal.
pub(crate) fn encode(tty: bool, stream: Stream, data: &[u8]) -> Vec<u8> {
    if tty {
        data.to_vec()
    } else {
        frame(stream, data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_carry_stream_and_length() {
        assert_eq!(
            frame(Stream::Stdout, b"hi\n"),
            vec![1, 0, 0, 0, 0, 0, 0, 3, b'h', b'i', b'\n']
        );
        assert_eq!(frame(Stream::Stderr, b"e")[..8], [2, 0, 0, 0, 0, 0, 0, 1]);
        // Nothing to say, no frame (an empty frame would read as the end to some clients).
        assert!(frame(Stream::Stdout, b"").is_empty());
        assert_eq!(encode(true, Stream::Stderr, b"x"), b"x");
    }
}
