//! `govnode keys ack NODE`: asks the running daemon to record that the
//! operator accepts the transactions NODE's address sent elsewhere, which
//! resumes the node if the doppelganger check paused it.

use std::path::{Path, PathBuf};

use crate::api::control::request_ack;
use crate::exit;

/// Exit 0 when recorded and the node may vote, 1 when the daemon refused
/// (unknown node, chain unreachable) or the node is still paused, 69 when
/// the daemon is not reachable.
pub fn run(config: &Path, socket: Option<PathBuf>, node: &str) -> i32 {
    let command = "keys ack";
    let (socket, runtime) = match super::client(command, config, socket) {
        Ok(c) => c,
        Err(code) => return code,
    };
    match runtime.block_on(request_ack(&socket, node)) {
        Ok(done) => {
            let a = &done.ack;
            println!(
                "{}: acknowledged {} transaction(s) of {} at {}",
                a.node,
                a.nonce,
                a.voter,
                crate::state::ms_rfc3339(a.acked_at)
            );
            match (&done.paused, done.was_paused) {
                (Some(why), _) => {
                    eprintln!("govnode {command}: {node} is still paused: {why}");
                    exit::FAILURE
                }
                (None, true) => {
                    println!("{node} resumes: the next round signs its votes");
                    exit::OK
                }
                (None, false) => {
                    println!("{node} was not paused");
                    exit::OK
                }
            }
        }
        Err(e) => super::control_failed(command, &e),
    }
}
