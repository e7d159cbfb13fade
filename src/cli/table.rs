//! A plain text table for people: a header, columns padded to their widest cell; and
//! [`escape`], through which every text from outside passes before it reaches a terminal.

/// `s` with every control or direction character written as `\u{..}`, so a name, an actor or
/// a reason cannot move the cursor, recolour the terminal or reorder what is shown.
pub fn escape(s: &str) -> String {
    if !s.chars().any(forgelink::domain::is_hidden_or_control) {
        return s.to_string();
    }
    s.chars()
        .map(|c| {
            if forgelink::domain::is_hidden_or_control(c) {
                format!("\\u{{{:x}}}", c as u32)
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Renders `rows` under `header`, two spaces between columns, no trailing spaces.
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| escape(c)).collect())
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            s.push_str(cell);
            if i + 1 < cells.len() {
                s.push_str(&" ".repeat(widths[i].saturating_sub(cell.chars().count())));
            }
        }
        s.trim_end().to_string()
    };
    let mut out = line(header.to_vec());
    out.push('\n');
    for row in &rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_reaches_the_terminal_holds_no_control_or_direction_characters() {
        assert_eq!(escape("acme"), "acme");
        assert_eq!(escape("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(escape("x\u{202e}y"), "x\\u{202e}y");
        let t = render(&["actor"], &[vec!["evil\rname".to_string()]]);
        assert!(!t.contains('\r'), "{t:?}");
    }
}
