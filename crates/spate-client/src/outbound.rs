//! The connection task's handling of requests from the handles: each is
//! encoded into the output buffer (checked against the server's frame
//! limit) and, when it expects an answer, registered under its id.
//! Between connections, or after GOAWAY, requests are refused at once:
//! nothing is queued while disconnected.

use std::sync::Arc;

use spate_proto::Frame;
use tokio::sync::mpsc;

use crate::actor::Actor;
use crate::command::{Command, EndSlot, Pending, StateRequest};
use crate::conn::Conn;
use crate::error::Error;
use crate::resume::Tracker;
use crate::subs::{Phase, SubEntry};

impl Actor {
    /// Handles one request while connected.
    pub(crate) fn on_command(&mut self, c: &mut Conn, cmd: Command) {
        if let Some((reason, _)) = &c.goaway {
            // What the server refuses after GOAWAY (protocol.md §5.4).
            let refusable = matches!(
                cmd,
                Command::Publish { .. }
                    | Command::Subscribe { .. }
                    | Command::State {
                        request: StateRequest::Put { .. } | StateRequest::Del { .. },
                        ..
                    }
            );
            if refusable {
                return self.refuse(cmd, Error::GoingAway(reason.clone()));
            }
        }
        match cmd {
            Command::Publish { mut publish, reply } => {
                let id = self.alloc_id();
                publish.request_id = id;
                publish.ack = reply.is_some();
                if let Err(e) = self.encode(c, &Frame::Publish(publish)) {
                    return match reply {
                        Some(r) => drop(r.send(Err(e))),
                        None => drop(self.unreported.get_or_insert(e)),
                    };
                }
                match reply {
                    Some(r) => drop(self.pending.insert(id, Pending::Ack(r))),
                    None => self.dirty = true,
                }
            }
            Command::Flush { reply } => {
                let token = self.next_token;
                self.next_token += 1;
                self.flushes.push_back((token, reply));
                self.dirty = false;
                Frame::Ping(token).encode(&mut self.out);
            }
            Command::Subscribe {
                pattern,
                options,
                reply,
            } => {
                let id = self.alloc_id();
                let tracker = Tracker::new(id, pattern.clone(), options.start);
                let requested = tracker.start();
                let frame = Frame::Subscribe {
                    sub_id: id,
                    pattern: pattern.clone(),
                    options: options.to_wire(requested),
                };
                if let Err(e) = self.encode(c, &frame) {
                    return drop(reply.send(Err(e)));
                }
                let (tx, events) = mpsc::channel(options.buffer.max(1));
                let entry = SubEntry {
                    pattern,
                    options,
                    tx,
                    end: Arc::new(EndSlot::default()),
                    tracker,
                    phase: Phase::Opening {
                        reply,
                        events,
                        requested,
                    },
                };
                self.subs.insert(id, entry);
            }
            Command::Unsubscribe { sub_id, reply } => {
                let known = self.subs.remove(&sub_id).is_some();
                if self.parked.as_ref().is_some_and(|p| p.sub_id == sub_id) {
                    self.parked = None;
                }
                if !known {
                    if let Some(r) = reply {
                        let _ = r.send(Ok(()));
                    }
                    return;
                }
                Frame::Unsubscribe { sub_id }.encode(&mut self.out);
                if let Some(r) = reply {
                    self.pending.insert(sub_id, Pending::Unsubscribe(r));
                }
            }
            Command::State { request, reply } => {
                let id = self.alloc_id();
                match self.encode(c, &state_frame(id, request)) {
                    Ok(()) => drop(self.pending.insert(id, Pending::State(reply))),
                    Err(e) => drop(reply.send(Err(e))),
                }
            }
            Command::Close { reply } => {
                self.closing = true;
                self.close_reply = Some(reply);
            }
        }
    }

    /// Answers a request that cannot be sent now with `why`.
    pub(crate) fn refuse(&mut self, cmd: Command, why: Error) {
        match cmd {
            Command::Publish { reply: Some(r), .. } => drop(r.send(Err(why))),
            Command::Publish { reply: None, .. } => drop(self.unreported.get_or_insert(why)),
            Command::Flush { reply } => {
                let e = self.unreported.take().unwrap_or(why);
                let _ = reply.send(Err(e));
            }
            Command::Subscribe { reply, .. } => drop(reply.send(Err(why))),
            Command::Unsubscribe { sub_id, reply } => {
                self.forget_sub(sub_id);
                if let Some(r) = reply {
                    let _ = r.send(Ok(()));
                }
            }
            Command::State { reply, .. } => drop(reply.send(Err(why))),
            Command::Close { reply } => {
                self.closing = true;
                self.close_reply = Some(reply);
            }
        }
    }

    /// Encodes `frame` into the output buffer unless a field is too long
    /// for the wire or the frame exceeds the server's frame limit.
    fn encode(&mut self, c: &Conn, frame: &Frame) -> Result<(), Error> {
        let start = self.out.len();
        frame
            .try_encode(&mut self.out)
            .map_err(Error::Unencodable)?;
        let size = self.out.len() - start;
        // The limit counts the opcode and body, not the 4-byte length.
        if size - 4 > c.max_frame {
            self.out.truncate(start);
            return Err(Error::TooLarge {
                size,
                max: c.max_frame,
            });
        }
        Ok(())
    }
}

fn state_frame(request_id: u32, request: StateRequest) -> Frame {
    match request {
        StateRequest::Put {
            topic,
            key,
            condition,
            value,
        } => Frame::StatePut {
            request_id,
            topic,
            key,
            condition,
            value,
        },
        StateRequest::Del {
            topic,
            key,
            condition,
        } => Frame::StateDel {
            request_id,
            topic,
            key,
            condition,
        },
        StateRequest::Get { topic, key } => Frame::StateGet {
            request_id,
            topic,
            key,
        },
        StateRequest::List {
            topic,
            after,
            limit,
        } => Frame::StateList {
            request_id,
            topic,
            after,
            limit,
        },
    }
}
