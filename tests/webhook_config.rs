//! `check-config` on the `webhooks:` section: an inline URL, a Telegram
//! target without `chat_id` and an unknown event name are refused with exit
//! 78 and their path in the file, a URL file that holds no URL is refused
//! without repeating it, and a good section passes.

mod support {
    pub mod daemon;
}

use support::daemon::{Workdir, base_config, check_config};

const EX_CONFIG: i32 = 78;
const TOKEN: &str = "xoxbSecretToken0123456789";

fn checked(work: &Workdir, webhooks: &str) -> (i32, String) {
    work.write(
        "hook.url",
        &format!("https://hooks.slack.com/services/T0/B0/{TOKEN}\n"),
    );
    let yaml = base_config(5001, "http://127.0.0.1:8545", webhooks);
    let path = work.write("config.yaml", &yaml);
    check_config(&path, &[])
}

fn assert_refused(webhooks: &str, expected: &[&str]) -> String {
    let work = Workdir::new();
    let (code, out) = checked(&work, webhooks);
    assert_eq!(code, EX_CONFIG, "{out}");
    for needle in expected {
        assert!(out.contains(needle), "expected {needle:?} in: {out}");
    }
    assert!(!out.contains("panicked"), "{out}");
    assert!(
        !out.contains(TOKEN),
        "the URL's token is in the message: {out}"
    );
    out
}

#[test]
fn a_good_section_passes() {
    let work = Workdir::new();
    let (code, out) = checked(
        &work,
        "webhooks:\n  - name: ops\n    kind: slack\n    url_file: hook.url\n    events: [vote_failed, round_failed]\n  - name: tg\n    kind: telegram\n    url_file: hook.url\n    chat_id: -1001234567890\n    timeout: 5s\n    max_attempts: 3\n    queue_size: 10\n    per_minute: 20\n",
    );
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains(TOKEN), "{out}");
}

#[test]
fn an_inline_url_is_refused_at_its_path() {
    assert_refused(
        &format!(
            "webhooks:\n  - name: ops\n    kind: slack\n    url_file: hook.url\n  - name: chat\n    kind: discord\n    url: https://discord.com/api/webhooks/1/{TOKEN}\n"
        ),
        &[
            "webhooks[1].url: inline webhook URLs are not accepted",
            "url_file",
            "url_credential",
        ],
    );
}

#[test]
fn telegram_without_chat_id_is_refused() {
    assert_refused(
        "webhooks:\n  - name: ops\n    kind: generic\n    url_file: hook.url\n  - name: tg\n    kind: telegram\n    url_file: hook.url\n",
        &["webhooks[1].chat_id: required with kind: telegram"],
    );
}

#[test]
fn an_unknown_event_is_refused_with_the_valid_ones() {
    assert_refused(
        "webhooks:\n  - name: ops\n    kind: generic\n    url_file: hook.url\n    events: [vote_sent, vote_cast]\n",
        &[
            "webhooks[0].events[1]",
            "vote_cast",
            "vote_sent",
            "vote_confirmed",
            "spend_budget_reached",
        ],
    );
}

#[test]
fn every_problem_of_a_target_is_listed() {
    assert_refused(
        "webhooks:\n  - name: ops\n    kind: generic\n  - name: ops\n    kind: slack\n    url_file: hook.url\n    url_credential: hook\n    chat_id: \"1\"\n    events: []\n    max_attempts: 0\n",
        &[
            "webhooks[0]: missing url_file or url_credential",
            "webhooks[1].name: duplicate webhook name",
            "webhooks[1].url_file: set either url_file or url_credential, not both",
            "webhooks[1].chat_id: only used with kind: telegram",
            "webhooks[1].events: an empty list would send nothing",
            "webhooks[1].max_attempts: must be at least 1",
        ],
    );
}

#[test]
fn a_file_without_a_url_is_refused_without_quoting_it() {
    let work = Workdir::new();
    work.write("bad.url", &format!("not a url {TOKEN}\n"));
    let yaml = base_config(
        5001,
        "http://127.0.0.1:8545",
        "webhooks:\n  - name: ops\n    kind: generic\n    url_file: bad.url\n",
    );
    let path = work.write("config.yaml", &yaml);
    let (code, out) = check_config(&path, &[]);
    assert_eq!(code, EX_CONFIG, "{out}");
    assert!(
        out.contains("webhooks[0].url_file:") && out.contains("does not hold a valid http(s) URL"),
        "{out}"
    );
    assert!(!out.contains(TOKEN), "{out}");
}
