//! How `govnode round` shows a running round: on a terminal one line redrawn
//! in place (phase, a bar, counts, elapsed time), ticking even while no
//! event arrives; otherwise (the systemd timer's journal, a pipe) a plain
//! line when the phase changes and at most every few seconds within one.

use std::time::Duration;

use crate::round::Progress;

/// Within a phase, plain output repeats at most this often.
pub const PLAIN_EVERY: Duration = Duration::from_secs(5);
const BAR_WIDTH: usize = 24;

/// `sending   [#########---------------]  12/32  3.4 s`
pub fn line(p: &Progress, elapsed: Duration) -> String {
    let secs = format!("{:.1} s", elapsed.as_secs_f64());
    if p.total == 0 {
        return format!("{:<10} {secs}", p.phase);
    }
    let done = p.done.min(p.total);
    let filled = (done as usize * BAR_WIDTH) / p.total as usize;
    format!(
        "{:<10} [{}{}] {}/{}  {secs}",
        p.phase,
        "#".repeat(filled),
        "-".repeat(BAR_WIDTH - filled),
        p.done,
        p.total
    )
}

/// Decides which progress events become plain lines.
#[derive(Debug, Default)]
pub struct PlainLines {
    /// Phase, count and time of the last line printed.
    last: Option<(String, u64, Duration)>,
}

impl PlainLines {
    /// The line to print for `p` at `elapsed`, if any: a new phase, the end
    /// of a phase, or movement after [`PLAIN_EVERY`].
    pub fn next(&mut self, p: &Progress, elapsed: Duration) -> Option<String> {
        let due = match &self.last {
            None => true,
            Some((phase, done, at)) => {
                *phase != p.phase
                    || (*done != p.done
                        && ((p.total > 0 && p.done >= p.total)
                            || elapsed.saturating_sub(*at) >= PLAIN_EVERY))
            }
        };
        if !due {
            return None;
        }
        self.last = Some((p.phase.clone(), p.done, elapsed));
        let secs = elapsed.as_secs_f64();
        Some(if p.total == 0 {
            format!("round: {} ({secs:.1} s)", p.phase)
        } else {
            format!("round: {} {}/{} ({secs:.1} s)", p.phase, p.done, p.total)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(phase: &str, done: u64, total: u64) -> Progress {
        Progress {
            phase: phase.into(),
            done,
            total,
        }
    }

    #[test]
    fn the_terminal_line_has_a_bar_counts_and_time() {
        assert_eq!(
            line(&p("sending", 12, 32), Duration::from_millis(3400)),
            "sending    [#########---------------] 12/32  3.4 s"
        );
        assert_eq!(
            line(&p("planning", 0, 0), Duration::from_millis(200)),
            "planning   0.2 s"
        );
        assert!(line(&p("confirming", 9, 4), Duration::ZERO).contains(&"#".repeat(BAR_WIDTH)));
    }

    #[test]
    fn plain_lines_on_phase_changes_and_now_and_then() {
        let mut plain = PlainLines::default();
        let s = Duration::from_secs;
        assert_eq!(
            plain.next(&p("planning", 0, 0), s(0)).as_deref(),
            Some("round: planning (0.0 s)")
        );
        assert_eq!(
            plain.next(&p("sending", 0, 10), s(1)).as_deref(),
            Some("round: sending 0/10 (1.0 s)")
        );
        assert_eq!(plain.next(&p("sending", 3, 10), s(2)), None);
        assert_eq!(
            plain.next(&p("sending", 6, 10), s(7)).as_deref(),
            Some("round: sending 6/10 (7.0 s)")
        );
        assert_eq!(
            plain.next(&p("sending", 10, 10), s(8)).as_deref(),
            Some("round: sending 10/10 (8.0 s)")
        );
        assert_eq!(plain.next(&p("sending", 10, 10), s(9)), None);
        assert!(plain.next(&p("confirming", 0, 10), s(9)).is_some());
    }
}
