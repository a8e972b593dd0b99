//! The DHCP server snippets of the workspace README ("DHCP server snippets"), read by the tests
//! that run them against real servers, so the README and the tests cannot drift apart.

/// The host and port the README's snippets name, replaced by the test ACS's.
const README_ACS: &str = "acs.example.net:7547";

/// The lines of the fenced code block that follows `<!-- dhcp: {name} -->` in the workspace
/// README, with `acs.example.net:7547` replaced by `acs` (`host:port`). Panics, naming the
/// snippet, when the marker or its code block is missing.
pub(crate) fn snippet(name: &str, acs: &str) -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
    let readme =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    extract(&readme, name)
        .unwrap_or_else(|| {
            panic!("{path} has no `<!-- dhcp: {name} -->` followed by a fenced code block")
        })
        .into_iter()
        .map(|line| line.replace(README_ACS, acs))
        .collect()
}

/// The lines of the first fenced code block after the marker line, if both are there.
fn extract<'a>(readme: &'a str, name: &str) -> Option<Vec<&'a str>> {
    let marker = format!("<!-- dhcp: {name} -->");
    let mut lines = readme
        .lines()
        .skip_while(|line| line.trim() != marker)
        .skip(1);
    lines.find(|line| line.trim_start().starts_with("```"))?;
    let mut block = Vec::new();
    for line in lines {
        if line.trim_start().starts_with("```") {
            return Some(block);
        }
        block.push(line);
    }
    // An unclosed block is a broken README, not a snippet.
    None
}

#[test]
fn a_snippet_is_the_code_block_after_its_marker_with_the_acs_replaced() {
    let lines = snippet("dnsmasq-h3c", "10.0.0.1:80");
    assert_eq!(
        lines,
        [
            r#"dhcp-option=vendor:dslforum.org,1,"http://10.0.0.1:80/cwmp cpe-admin s3cret""#,
            r#"dhcp-option=vendor:dslforum.org,2,"ZTP-LAB""#,
        ]
    );
    let text = "<!-- dhcp: a -->\ntext\n```ini\nx\n```\n<!-- dhcp: b -->\n```\ny\n";
    assert_eq!(extract(text, "a"), Some(vec!["x"]));
    assert_eq!(extract(text, "b"), None, "an unclosed block");
    assert_eq!(extract(text, "c"), None, "no marker");
}
