//! Load jobs: a local CSV file uploaded with its job (`jobs.insert` on the
//! upload endpoint, `uploadType=multipart`), as dbt-bigquery's
//! `load_table_from_file` loads seeds. Like a query job, an accepted load is
//! only waited for, never uploaded again; an upload that got no answer is
//! looked up by its job id first. See:
//! <https://cloud.google.com/bigquery/docs/reference/api-uploads>

use gcp_bigquery_client::error::{BQError, ResponseError};
use gcp_bigquery_client::model::job::Job as ApiJob;
use serde_json::{Value as Json, json};

use super::{BigQueryConnection, JobFailure, Poll, backoff, classify, describe_error, ended_well, failed_for, is_status};
use crate::sql::plan::FileLoad;
use crate::warehouse::WarehouseError;

/// How an upload ended.
#[allow(clippy::large_enum_variant, reason = "one value per upload, moved once; boxing the job resource buys nothing")]
pub(super) enum Uploaded {
    /// The finished load job.
    Done(ApiJob),
    /// The API has no upload endpoint (404 or 501 without BigQuery's error).
    Unsupported,
}

/// What one upload request got back.
#[allow(clippy::large_enum_variant, reason = "one value per upload request, matched at once; boxing the job resource buys nothing")]
enum Answer {
    Accepted(ApiJob),
    Unsupported,
    Refused(BQError),
    /// Not sent: a column the load cannot take.
    Invalid(String),
    /// No answer, or one worth sending again (what was got): the job may or may not exist.
    Unknown(String),
}

impl BigQueryConnection {
    /// Uploads `file` as load job `id` and waits for it.
    pub(super) async fn upload_and_wait(&self, id: &str, load: &FileLoad, file: &[u8]) -> Result<Uploaded, JobFailure> {
        let settings = &self.settings;
        let what = format!("load of `{}`", load.path.display());
        let failed = failed_for(id);
        let jobs = self.client.job();
        let mut attempt = 0;
        let accepted = loop {
            match self.upload(id, load, file).await {
                Answer::Accepted(job) => break job,
                Answer::Unsupported => return Ok(Uploaded::Unsupported),
                Answer::Refused(err) if is_status(&err, 409) => {
                    break self.keep_asking(id, || jobs.get_job(settings.job_project(), id, settings.location.as_deref())).await?.map_err(failed)?;
                }
                Answer::Refused(err) => return Err(failed(err)),
                Answer::Invalid(message) => return Err(JobFailure::Final(WarehouseError::query(format!("the {what} was not sent: {message}")))),
                Answer::Unknown(err) => {
                    // The upload may have reached BigQuery: the job under its id says.
                    match self.keep_asking(id, || jobs.get_job(settings.job_project(), id, settings.location.as_deref())).await? {
                        Ok(job) => break job,
                        Err(missing) if is_status(&missing, 404) && attempt < settings.job_retries => {
                            tokio::time::sleep(backoff(attempt)).await;
                            attempt += 1;
                        }
                        Err(missing) if is_status(&missing, 404) => {
                            return Err(JobFailure::Final(WarehouseError::Query {
                                message: format!("the {what} failed: {err}"),
                                retryable: false,
                                job_id: Some(id.to_string()),
                                at: None,
                                reason: None,
                            }));
                        }
                        Err(other) => return Err(failed(other)),
                    }
                }
            }
        };
        // BigQuery keeps the id it was given; an emulator may choose its own.
        let id = accepted.job_reference.as_ref().and_then(|r| r.job_id.clone()).unwrap_or_else(|| id.to_string());
        let finished = self.wait_until_done(&id, accepted, Poll::Job).await?;
        ended_well(finished, &id, &what).map(Uploaded::Done)
    }

    /// One multipart upload: the job resource, then the file.
    async fn upload(&self, id: &str, load: &FileLoad, file: &[u8]) -> Answer {
        let settings = &self.settings;
        let url = format!(
            "{}/projects/{}/jobs?uploadType=multipart",
            settings.upload_base(),
            percent_encoding::utf8_percent_encode(settings.job_project(), super::auth::PATH_SEGMENT)
        );
        let resource = match load_job(id, load, settings.job_project(), settings.location.as_deref()) {
            Ok(resource) => resource,
            Err(message) => return Answer::Invalid(message),
        };
        let boundary = boundary(file);
        let mut body = format!(
            "--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{resource}\r\n--{boundary}\r\nContent-Type: text/csv\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(file);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let token = match self.api.authenticator.access_token().await {
            Ok(token) => token,
            Err(err) => return Answer::Refused(err),
        };
        let sent = self
            .api
            .http
            .post(url)
            .bearer_auth(token)
            .header(reqwest::header::CONTENT_TYPE, format!("multipart/related; boundary={boundary}"))
            .body(body)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(err) => return Answer::Unknown(describe_error(&err.into())),
        };
        let status = response.status();
        let text = match response.text().await {
            Ok(text) => text,
            Err(err) => return Answer::Unknown(describe_error(&err.into())),
        };
        if status.is_success() {
            return match serde_json::from_str(&text) {
                Ok(job) => Answer::Accepted(job),
                Err(err) => Answer::Unknown(format!("the upload's answer is not a job ({err})")),
            };
        }
        match serde_json::from_str::<ResponseError>(&text) {
            Ok(error) => {
                let err = BQError::ResponseError { error };
                if classify(&err).1 { Answer::Unknown(describe_error(&err)) } else { Answer::Refused(err) }
            }
            // A path the server does not have: no upload endpoint.
            Err(_) if status.as_u16() == 404 || status.as_u16() == 501 => Answer::Unsupported,
            Err(_) => Answer::Unknown(format!("the upload got {status}")),
        }
    }
}

/// The schema's fields of a load of `load.columns`, or the first column a
/// load job cannot take (`seed_plan` refuses those before anything runs).
fn load_fields(load: &FileLoad) -> Result<Vec<Json>, String> {
    let field = |c: &crate::sql::SeedColumn| {
        super::types::load_field(&c.name, &super::types::parse(&c.data_type))
            .map_err(|message| format!("column `{}` ({}): {message}", c.name, c.data_type))
    };
    load.columns.iter().map(field).collect()
}

/// The resource of a load job replacing `load.relation`'s rows with the CSV file's.
fn load_job(id: &str, load: &FileLoad, job_project: &str, location: Option<&str>) -> Result<Json, String> {
    let relation = &load.relation;
    let fields = load_fields(load)?;
    let mut configuration = json!({
        "load": {
            "destinationTable": {
                "projectId": relation.database.clone().unwrap_or_else(|| job_project.to_string()),
                "datasetId": relation.schema.clone().unwrap_or_default(),
                "tableId": relation.identifier,
            },
            "schema": {"fields": fields},
            "sourceFormat": "CSV",
            "skipLeadingRows": 1,
            "fieldDelimiter": load.delimiter.to_string(),
            "quote": "\"",
            "allowQuotedNewlines": true,
            "createDisposition": "CREATE_IF_NEEDED",
            "writeDisposition": "WRITE_TRUNCATE",
        }
    });
    if !load.job.labels.is_empty() {
        configuration["labels"] = Json::Object(load.job.labels.iter().map(|(k, v)| (k.clone(), Json::String(v.clone()))).collect());
    }
    if let Some(timeout) = load.job.timeout {
        configuration["jobTimeoutMs"] = Json::String(timeout.as_millis().to_string());
    }
    Ok(json!({
        "jobReference": {"projectId": job_project, "jobId": id, "location": location},
        "configuration": configuration,
    }))
}

/// A multipart boundary the file does not contain.
fn boundary(file: &[u8]) -> String {
    let mut boundary = String::from("strata_load_boundary");
    let mut salt = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    while file.windows(boundary.len()).any(|w| w == boundary.as_bytes()) {
        boundary = format!("strata_load_boundary_{salt:x}");
        salt = salt.wrapping_mul(6364136223846793005).wrapping_add(1);
    }
    boundary
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::relation::{QuoteStyle, Relation};
    use crate::sql::SeedColumn;

    // A load job's schema names each type as the load API does, with a
    // decimal's precision and scale as fields of their own.
    #[test]
    fn a_load_job_s_schema_holds_the_load_api_s_types() {
        let column = |name: &str, data_type: &str| SeedColumn { name: name.into(), data_type: data_type.into() };
        let load = FileLoad {
            path: "rows.csv".into(),
            relation: Relation { database: Some("p".into()), schema: Some("d".into()), identifier: "t".into(), quote: QuoteStyle::Backtick },
            columns: vec![column("total", "BIGNUMERIC"), column("price", "NUMERIC(18, 2)"), column("seen_at", "DATETIME"), column("n", "INT64")],
            delimiter: ',',
            job: crate::core::job::Job::default(),
        };
        let job = load_job("j", &load, "p", None).unwrap();
        insta::assert_snapshot!(serde_json::to_string(&job["configuration"]["load"]["schema"]).unwrap(), @r#"{"fields":[{"name":"total","mode":"NULLABLE","type":"BIGNUMERIC"},{"name":"price","mode":"NULLABLE","precision":"18","scale":"2","type":"NUMERIC"},{"name":"seen_at","mode":"NULLABLE","type":"DATETIME"},{"name":"n","mode":"NULLABLE","type":"INTEGER"}]}"#);
        let nested = FileLoad { columns: vec![column("tags", "ARRAY<INT64>")], ..load };
        assert_eq!(
            load_job("j", &nested, "p", None).unwrap_err(),
            "column `tags` (ARRAY<INT64>): a CSV load takes no nested values (array of 64-bit integer); turn them into JSON text (`to_json`) first"
        );
    }
}
