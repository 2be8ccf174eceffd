//! `govnode plan` and `govnode round --dry-run`: what each node would vote
//! on each open proposal and why, asked of the running daemon (which holds
//! the strategies and reads the chain); nothing is signed, sent or recorded.

use std::path::Path;

use crate::api::control::request_plan;
use crate::exit;
use crate::preview::{Action, table};

/// `simulate`: also estimate each vote on the chain (`round --dry-run`).
/// Exit 0 when the plan was read (and, simulated, no vote would be refused),
/// 1 when a simulated vote would be refused or the daemon could not plan,
/// 69 when the daemon is not reachable.
pub fn run(
    config: &Path,
    socket: Option<std::path::PathBuf>,
    json: bool,
    simulate: bool,
    dao: Option<&str>,
) -> i32 {
    let command = if simulate { "round --dry-run" } else { "plan" };
    let (socket, runtime) = match super::client(command, config, socket) {
        Ok(c) => c,
        Err(code) => return code,
    };
    match runtime.block_on(request_plan(&socket, simulate, dao)) {
        Ok(plan) => {
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&plan).unwrap_or_default()
                );
            } else {
                print!("{}", table::render(&plan));
            }
            if simulate && plan.count(Action::Refused) > 0 {
                exit::FAILURE
            } else {
                exit::OK
            }
        }
        Err(e) => super::control_failed(command, &e),
    }
}
