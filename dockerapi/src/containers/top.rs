//! `GET /containers/{id}/top`: the container's processes as Docker's `Titles` and `Processes`
//! (the agent lists them under `ps -ef`'s titles; `ps_args` is not honoured).

use api::agent as proto;
use serde_json::{Value, json};

use crate::context::Context;
use crate::reply::{ApiError, Reply, json};

/// Docker's `ContainerTopOKBody` of the agent's answer.
fn body(top: &proto::TopResponse) -> Value {
    json!({
        "Titles": top.titles,
        "Processes": top.processes.iter().map(|row| &row.values).collect::<Vec<_>>(),
    })
}

/// `GET /containers/{id}/top`.
pub(crate) async fn top(context: &Context, id: &str) -> Reply {
    let top = context
        .containers()
        .top(proto::ContainerRef {
            container: id.to_string(),
        })
        .await
        .map_err(ApiError::not_found_as(format!("No such container: {id}")))?
        .into_inner();
    json(&body(&top))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_and_rows_as_docker() {
        let top = proto::TopResponse {
            titles: vec!["UID".into(), "PID".into(), "CMD".into()],
            processes: vec![proto::TopRow {
                values: vec!["root".into(), "42".into(), "sleep 300".into()],
            }],
        };
        assert_eq!(
            body(&top).to_string(),
            r#"{"Titles":["UID","PID","CMD"],"Processes":[["root","42","sleep 300"]]}"#
        );
    }
}
