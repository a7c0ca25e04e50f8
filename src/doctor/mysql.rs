//! Doctor checks of `backup.mysql`: the dump tool and the client in the service's
//! container (mariadb-dump or mysqldump, mariadb or mysql), and a login as the configured
//! user with the configured password, which also measures the database for the disk check.

use anyhow::Result;

use super::space::Sizes;
use super::{Check, EXEC_LIMIT, bounded};
use crate::config::{MysqlTarget, Settings};
use crate::docker::Engine;
use crate::snapshot::mysql;

pub async fn tools(checks: &mut Vec<Check>, sizes: &mut Sizes, s: &Settings, engine: &Engine) {
    for t in &s.file.backup.mysql {
        let name = format!("mysql {}", t.service);
        match bounded(EXEC_LIMIT, probe(engine, s, t)).await {
            Ok((tools, bytes)) => {
                sizes.add(format!("mysql {}", t.label()), Some(bytes));
                checks.push(Check::ok(
                    name,
                    format!("{tools}; database `{}` as `{}`: {}", t.label(), t.user, crate::util::human_bytes(bytes)),
                ));
            }
            Err(e) => {
                sizes.add(format!("mysql {}", t.label()), None);
                let msg = format!("{e:#}");
                checks.push(Check::fail(name, msg.clone(), fix(&msg, t)));
            }
        }
    }
}

async fn probe(engine: &Engine, s: &Settings, t: &MysqlTarget) -> Result<(String, u64)> {
    let c = engine.running_container(&s.project, &t.service).await?;
    let dump = mysql::tool(engine, &c.id, mysql::DUMP_TOOLS).await?;
    let client = mysql::tool(engine, &c.id, mysql::CLIENTS).await?;
    let resolved = t.password_variable.as_deref().and_then(|v| s.vars.get(v)).filter(|v| !v.is_empty());
    let pw = mysql::password(engine, &c.id, t, resolved).await?;
    let bytes = mysql::size(engine, &c.id, t, pw.as_deref()).await?;
    Ok((format!("{dump} and {client} present"), bytes))
}

fn fix(err: &str, t: &MysqlTarget) -> String {
    let service = &t.service;
    if err.contains("has none of") {
        format!(
            "use an image for `{service}` that ships mariadb-dump or mysqldump (the official mysql and mariadb images do)"
        )
    } else if err.contains("cannot connect") || err.contains("password_variable") {
        "correct `database`, `user` and `password_variable` under backup.mysql (MYSQL_DATABASE, MYSQL_USER and the variable of MYSQL_PASSWORD)".to_string()
    } else {
        format!("start `{service}` (`docker compose up -d {service}`)")
    }
}
