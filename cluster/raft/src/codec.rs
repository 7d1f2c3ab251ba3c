//! Wire and disk encoding of raft-rs protobuf types.
//!
//! raft-rs is built with its prost codec: decoding goes through prost (bounded recursion), never
//! through the protobuf 2 parser affected by RUSTSEC-2024-0437. Raft messages travel between
//! managers as opaque bytes inside the cluster's own gRPC messages.

use prost::Message as _;
use raft::eraftpb::Message;

/// A value that could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("cannot decode {what}: {source}")]
pub struct DecodeError {
    /// What was being decoded.
    pub what: &'static str,
    /// The protobuf error.
    #[source]
    pub source: prost::DecodeError,
}

/// Encodes a raft message for the transport.
pub fn encode_message(message: &Message) -> Vec<u8> {
    message.encode_to_vec()
}

/// Decodes a raft message received from the transport.
pub fn decode_message(bytes: &[u8]) -> Result<Message, DecodeError> {
    decode(bytes, "raft message")
}

/// Encodes any raft protobuf value.
pub(crate) fn encode<T: prost::Message>(value: &T) -> Vec<u8> {
    value.encode_to_vec()
}

/// Decodes any raft protobuf value, naming it in the error.
pub(crate) fn decode<T: prost::Message + Default>(
    bytes: &[u8],
    what: &'static str,
) -> Result<T, DecodeError> {
    T::decode(bytes).map_err(|source| DecodeError { what, source })
}

#[cfg(test)]
mod tests {
    use raft::eraftpb::{Entry, MessageType};

    use super::*;

    #[test]
    fn message_round_trips_through_bytes() {
        let entry = Entry {
            index: 42,
            term: 7,
            data: b"batch".to_vec(),
            ..Entry::default()
        };
        let mut message = Message {
            from: 1,
            to: 3,
            term: 7,
            index: 41,
            log_term: 6,
            commit: 40,
            entries: vec![entry],
            ..Message::default()
        };
        message.set_msg_type(MessageType::MsgAppend);
        let bytes = encode_message(&message);
        assert_eq!(decode_message(&bytes).unwrap(), message);
    }

    #[test]
    fn garbage_is_an_error_naming_the_type() {
        let err = decode_message(&[0xff, 0xff, 0xff]).unwrap_err();
        assert!(err.to_string().starts_with("cannot decode raft message: "));
    }
}
