//! `mcpcord models`: every backend's models with their capabilities.

use anyhow::anyhow;

use super::Failure;
use crate::config::Config;
use crate::wiring::backend_pool;

/// Lists the models; exit 1 when no backend could be listed.
pub async fn run(config: &Config) -> Result<(), Failure> {
    let pool = backend_pool(config);
    let lists = pool.list_models().await;
    let mut rows =
        vec![["BACKEND", "MODEL", "CAPABILITIES", "CONTEXT", "DETAILS"].map(String::from)];
    let mut failed = 0;
    for list in &lists {
        match &list.models {
            Ok(models) => rows.extend(models.iter().map(|m| {
                [
                    list.backend.clone(),
                    m.name.clone(),
                    m.capabilities.as_ref().map_or_else(
                        || "?".into(),
                        |caps| caps.iter().map(|c| c.name()).collect::<Vec<_>>().join(","),
                    ),
                    m.context_length
                        .map_or_else(|| "?".into(), |n| n.to_string()),
                    m.details.clone().unwrap_or_default(),
                ]
            })),
            Err(error) => {
                failed += 1;
                // Operators: the reason with the (redacted) URL.
                eprintln!("mcpcord: backend {}: {}", list.backend, error.detail());
            }
        }
    }
    print!("{}", table(&rows));
    if failed == lists.len() && !lists.is_empty() {
        return Err(Failure::Runtime(anyhow!(
            "no backend could list its models"
        )));
    }
    Ok(())
}

/// Left-aligned columns separated by two spaces.
pub fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let widths: Vec<usize> = (0..N)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}
