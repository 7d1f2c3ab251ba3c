//! Tab-separated cells aligned into columns as Go's `text/tabwriter` does with the settings the
//! docker CLI uses for `--format 'table …'` (minimum width 10, padding 3, spaces).

/// The narrowest a column gets, padding included (docker's `tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`).
const MIN_WIDTH: usize = 10;
/// Spaces added after the widest cell of a column.
const PADDING: usize = 3;

/// Aligns `text`: every tab-terminated cell is padded to its column's width; the text after a
/// line's last tab is left as it is. A column spans the consecutive lines that have a cell in it,
/// as in Go's tabwriter, so a line with fewer cells starts new blocks for the columns it lacks.
pub(super) fn align(text: &str) -> String {
    let lines: Vec<Vec<&str>> = text.split('\n').map(|l| l.split('\t').collect()).collect();
    // The width of column `c` for line `i`, computed per block of consecutive lines that have
    // a tab-terminated cell `c`.
    let mut widths: Vec<Vec<usize>> = lines
        .iter()
        .map(|cells| vec![0; cells.len().saturating_sub(1)])
        .collect();
    let columns = widths.iter().map(Vec::len).max().unwrap_or(0);
    for column in 0..columns {
        let mut start = 0;
        while start < lines.len() {
            if widths[start].len() <= column {
                start += 1;
                continue;
            }
            let mut end = start;
            let mut width = 0;
            while end < lines.len() && widths[end].len() > column {
                width = width.max(lines[end][column].chars().count());
                end += 1;
            }
            let width = (width + PADDING).max(MIN_WIDTH);
            for line in &mut widths[start..end] {
                line[column] = width;
            }
            start = end;
        }
    }
    let mut out = String::with_capacity(text.len());
    for (i, cells) in lines.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let last = cells.len() - 1;
        for (c, cell) in cells.iter().enumerate() {
            out.push_str(cell);
            if c < last {
                let pad = widths[i][c] - cell.chars().count();
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::align;

    #[test]
    fn pads_to_the_widest_cell_or_the_minimum() {
        assert_eq!(
            align("NETWORK ID\tNAME\tDRIVER\n0123456789ab\tbridge\tbridge\n"),
            "NETWORK ID     NAME      DRIVER\n0123456789ab   bridge    bridge\n"
        );
    }

    #[test]
    fn last_cell_and_untabbed_lines_are_left_alone() {
        assert_eq!(align("a\nb"), "a\nb");
        assert_eq!(align("x\tlong last cell\n"), "x         long last cell\n");
    }

    #[test]
    fn a_shorter_line_ends_the_column_block() {
        assert_eq!(
            align("a\tb\tc\nd\n0123456789abcd\te\tf"),
            "a         b         c\nd\n0123456789abcd   e         f"
        );
    }

    #[test]
    fn widths_count_characters_not_bytes() {
        assert_eq!(align("é\tx\nab\ty"), "é         x\nab        y");
    }
}
