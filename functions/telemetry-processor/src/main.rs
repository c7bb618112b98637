//! The telemetry-processor Lambda: a thin `main` that builds its clients once, wires the
//! AWS adapters to the pipeline, and handles Kinesis batches (`burnbar_pipeline::processor`).

// The processor's future nests the SDK's, the writer client's and the pipeline's:
// deeper than the default limit when its layout is computed.
#![recursion_limit = "256"]

use aws_lambda_events::event::kinesis::KinesisEvent;
use burnbar_aws::dynamo::DynamoStore;
use burnbar_aws::function::{Env, WriterPublisher, kinesis_invocation};
use burnbar_aws::sagemaker::SageMakerPredictor;
use burnbar_aws::sqs::SqsQuarantine;
use burnbar_metrics::log;
use burnbar_pipeline::Processor;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::json;

const FUNCTION: &str = "telemetry-processor";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let env =
        Env::from_env().inspect_err(|e| log("error", e, None, &[("function", json!(FUNCTION))]))?;
    let sdk = burnbar_aws::sdk_config().await;
    let mut store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), &env.table);
    store.ttl = env.ttl;
    let predictor = env
        .sagemaker_endpoint
        .as_ref()
        .map(|e| SageMakerPredictor::new(aws_sdk_sagemakerruntime::Client::new(&sdk), e));
    let publisher = WriterPublisher::from_env(&env.writer_url)
        .inspect_err(|e| log("error", e, None, &[("function", json!(FUNCTION))]))?;
    let quarantine = SqsQuarantine::new(aws_sdk_sqs::Client::new(&sdk), &env.quarantine_url);
    let processor = Processor::new(
        store,
        predictor,
        publisher,
        quarantine,
        env.processor_config(),
    );
    let processor = &processor;
    lambda_runtime::run(service_fn(
        move |ev: LambdaEvent<KinesisEvent>| async move {
            Ok::<_, Error>(kinesis_invocation(FUNCTION, ev, processor).await)
        },
    ))
    .await
}
