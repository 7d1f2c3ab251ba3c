//! Aligned text tables as the docker CLI prints them (columns padded, three spaces apart).

/// Renders `headers` and `rows` as aligned lines, each ending in a newline.
pub(crate) fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let header: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let last = row.len().saturating_sub(1);
        for (i, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if i < last {
                let pad = widths.get(i).copied().unwrap_or(0) - cell.chars().count() + 3;
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(cells: &[&[&str]]) -> Vec<Vec<String>> {
        cells
            .iter()
            .map(|row| row.iter().map(|c| c.to_string()).collect())
            .collect()
    }

    #[test]
    fn aligns_columns() {
        for (headers, cells, text) in [
            (
                &["ID", "STATUS", "NAMES"][..],
                &[&["abc", "Up 1 second", "web"][..], &["d", "Created", "db"]][..],
                "ID    STATUS        NAMES\nabc   Up 1 second   web\nd     Created       db\n",
            ),
            (
                &["NETWORK ID", "NAME", "DRIVER"],
                &[
                    &["abc", "bridge", "bridge"],
                    &["d", "app_default", "bridge"],
                ],
                "NETWORK ID   NAME          DRIVER\nabc          bridge        bridge\nd            app_default   bridge\n",
            ),
            (&["A", "BB"], &[&["xxx", "y"]], "A     BB\nxxx   y\n"),
            (&["A", "B"], &[], "A   B\n"),
        ] {
            assert_eq!(render(headers, &rows(cells)), text, "{headers:?}");
        }
    }
}
