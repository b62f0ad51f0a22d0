//! A report as a list of blocks, rendered twice from the same blocks: `index.html` (figures as
//! SVG) and `README.md` (figures as PNG, for GitHub), so the two never disagree.

/// One piece of a report.
#[derive(Debug, Clone)]
pub enum Block {
    Title(String),
    Heading(String),
    Paragraph(String),
    List(Vec<String>),
    Table {
        header: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    /// A chart written as `<file>.svg` and `<file>.png` beside the page.
    Figure {
        file: String,
        caption: String,
    },
}

pub fn html(title: &str, blocks: &[Block]) -> String {
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n");
    out.push_str(&format!("<title>{}</title>\n", escape(title)));
    out.push_str(
        "<style>\nbody { font-family: sans-serif; max-width: 60em; margin: 2em auto; padding: 0 1em; }\n\
         table { border-collapse: collapse; margin: 1em 0; }\n\
         th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }\n\
         th:first-child, td:first-child { text-align: left; }\n\
         figure { margin: 1.5em 0; }\nimg { max-width: 100%; }\n\
         figcaption { color: #444; font-size: 0.9em; }\n</style>\n</head>\n<body>\n",
    );
    for block in blocks {
        match block {
            Block::Title(t) => out.push_str(&format!("<h1>{}</h1>\n", escape(t))),
            Block::Heading(t) => out.push_str(&format!("<h2>{}</h2>\n", escape(t))),
            Block::Paragraph(t) => out.push_str(&format!("<p>{}</p>\n", escape(t))),
            Block::List(items) => {
                out.push_str("<ul>\n");
                for item in items {
                    out.push_str(&format!("<li>{}</li>\n", escape(item)));
                }
                out.push_str("</ul>\n");
            }
            Block::Table { header, rows } => {
                out.push_str("<table>\n<thead><tr>");
                for h in header {
                    out.push_str(&format!("<th>{}</th>", escape(h)));
                }
                out.push_str("</tr></thead>\n<tbody>\n");
                for row in rows {
                    out.push_str("<tr>");
                    for cell in row {
                        out.push_str(&format!("<td>{}</td>", escape(cell)));
                    }
                    out.push_str("</tr>\n");
                }
                out.push_str("</tbody>\n</table>\n");
            }
            Block::Figure { file, caption } => out.push_str(&format!(
                "<figure><img src=\"{}.svg\" alt=\"{}\"/><figcaption>{}</figcaption></figure>\n",
                escape(file),
                escape(caption),
                escape(caption)
            )),
        }
    }
    out.push_str("</body>\n</html>\n");
    out
}

pub fn markdown(blocks: &[Block]) -> String {
    let mut out = String::new();
    for block in blocks {
        match block {
            Block::Title(t) => out.push_str(&format!("# {t}\n\n")),
            Block::Heading(t) => out.push_str(&format!("## {t}\n\n")),
            Block::Paragraph(t) => out.push_str(&format!("{t}\n\n")),
            Block::List(items) => {
                for item in items {
                    out.push_str(&format!("- {item}\n"));
                }
                out.push('\n');
            }
            Block::Table { header, rows } => {
                out.push_str(&md_row(header));
                out.push_str(&md_row(&vec!["---".to_string(); header.len()]));
                for row in rows {
                    out.push_str(&md_row(row));
                }
                out.push('\n');
            }
            Block::Figure { file, caption } => {
                out.push_str(&format!("![{caption}]({file}.png)\n\n*{caption}*\n\n"));
            }
        }
    }
    out
}

fn md_row(cells: &[String]) -> String {
    let escaped: Vec<String> = cells.iter().map(|c| c.replace('|', "\\|")).collect();
    format!("| {} |\n", escaped.join(" | "))
}

/// Text made safe inside HTML elements and attribute values.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_renderings_carry_the_same_table_and_escape_their_specials() {
        let blocks = vec![
            Block::Title("R&D <1>".into()),
            Block::Table {
                header: vec!["a|b".into(), "c".into()],
                rows: vec![vec!["x".into(), "1 < 2".into()]],
            },
            Block::Figure {
                file: "fig".into(),
                caption: "a \"quoted\" caption".into(),
            },
        ];
        let html = html("t", &blocks);
        assert!(html.contains("<h1>R&amp;D &lt;1&gt;</h1>"));
        assert!(html.contains("<td>1 &lt; 2</td>"));
        assert!(html.contains("<img src=\"fig.svg\" alt=\"a &quot;quoted&quot; caption\"/>"));
        let md = markdown(&blocks);
        assert!(md.contains("| a\\|b | c |\n| --- | --- |\n| x | 1 < 2 |\n"));
        assert!(md.contains("![a \"quoted\" caption](fig.png)"));
    }
}
