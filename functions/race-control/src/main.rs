//! The race-control Lambda: a thin `main` that builds its clients once, wires the AWS
//! adapters to the pipeline, and handles Kinesis batches (`burnbar_pipeline::control`).

// The processor's future nests the SDK's, the writer client's and the pipeline's:
// deeper than the default limit when its layout is computed.
#![recursion_limit = "256"]

use aws_lambda_events::event::kinesis::KinesisEvent;
use burnbar_aws::dynamo::DynamoStore;
use burnbar_aws::function::{Env, WriterPublisher, kinesis_invocation};
use burnbar_aws::sqs::SqsQuarantine;
use burnbar_metrics::log;
use burnbar_pipeline::Control;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::json;

const FUNCTION: &str = "race-control";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let env =
        Env::from_env().inspect_err(|e| log("error", e, None, &[("function", json!(FUNCTION))]))?;
    let sdk = burnbar_aws::sdk_config().await;
    let mut store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), &env.table);
    store.ttl = env.ttl;
    let publisher = WriterPublisher::from_env(&env.writer_url)
        .inspect_err(|e| log("error", e, None, &[("function", json!(FUNCTION))]))?;
    let quarantine = SqsQuarantine::new(aws_sdk_sqs::Client::new(&sdk), &env.quarantine_url);
    let control = Control::new(store, publisher, quarantine, env.processor_config());
    let control = &control;
    lambda_runtime::run(service_fn(
        move |ev: LambdaEvent<KinesisEvent>| async move {
            Ok::<_, Error>(kinesis_invocation(FUNCTION, ev, control).await)
        },
    ))
    .await
}
