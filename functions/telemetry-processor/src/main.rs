//! The telemetry-processor Lambda: its adapters from the environment, the pipeline's
//! telemetry batch ([`burnbar_pipeline::processor`]) with the learned correction when an
//! endpoint is configured, served on Kinesis batches.

// The processor's future nests the SDK's (DynamoDB, SageMaker, SQS), the writer
// client's and the pipeline's steps: deeper than the default limit when its layout is
// computed.
#![recursion_limit = "256"]

use burnbar_aws::function::StreamAdapters;
use burnbar_lambda::runtime::{Error, configured, serve_kinesis};
use burnbar_pipeline::Processor;

const FUNCTION: &str = "telemetry-processor";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let aws = configured(FUNCTION, StreamAdapters::from_env().await)?;
    let (predictor, cfg) = (aws.predictor(), aws.config());
    let processor = Processor::new(aws.store, predictor, aws.publisher, aws.quarantine, cfg);
    serve_kinesis(FUNCTION, &processor).await
}
