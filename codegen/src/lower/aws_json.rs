//! The AWS JSON protocol: what an `X-Amz-Target` operation's `application/json` body really is sent as.
//!
//! AWS services of the JSON protocol (DynamoDB, Kinesis, Secrets Manager...) select the operation by
//! the `X-Amz-Target` header and read the body only under `application/x-amz-json-1.0` or `-1.1`; the
//! published descriptions say `application/json`, which those services (and emulators) read as another
//! protocol. Which version a service speaks is a fact of the service, not of its description, so the
//! services on 1.0 are listed here by the target prefix their operations name (the part before the
//! `.`); every other prefix is 1.1.

use crate::ir::{BodyKind, RequestBody};

/// Target prefixes of the services that speak version 1.0 of the protocol.
const JSON_1_0: &[&str] = &[
    "AWSBCMDashboardsService",
    "AWSBCMPricingCalculator",
    "AWSBilling",
    "AWSBillingAndCostManagementRecommendedActions",
    "AWSFreeTierService",
    "AWSKendraRerankingFrontendService",
    "AWSLookoutEquipmentFrontendService",
    "AWSMPCommerceService_v20200301",
    "AWSParallelComputingService",
    "AWSPartnerCentralSelling",
    "AWSPayments",
    "AWSStepFunctions",
    "AmazonElasticVMwareService",
    "AmazonMWAAServerless",
    "AmazonSQS",
    "AmazonTimestreamInfluxDB",
    "AppRunner",
    "ArcRegionSwitch",
    "AwsProton20200720",
    "B2BI",
    "BackupOnPremises_v20210101",
    "CloudApiService",
    "ComputeOptimizerAutomationService",
    "ComputeOptimizerService",
    "CostOptimizationHubService",
    "DynamoDBStreams_20120810",
    "DynamoDB_20120810",
    "EUCMIFrontendAPIService",
    "GraniteServiceVersion20100801",
    "HealthLake",
    "Interconnect",
    "Invoicing",
    "IoTAutobahnControlPlane",
    "KeyspacesService",
    "KeyspacesStreams",
    "MailManagerSvc",
    "NetworkFirewall_20201112",
    "Odb",
    "OpenSearchMemory",
    "OpenSearchServerless",
    "PartnerCentralAccount",
    "PartnerCentralBenefitsService",
    "PartnerCentralChannel",
    "PaymentCryptographyControlPlane",
    "PinpointSMSVoiceV2",
    "SimpleWorkflowService",
    "Timestream_20181101",
    "ToggleCustomerAPI",
    "VerifiedPermissions",
    "VoiceID",
    "com.amazonaws.codeconnections.CodeConnections_20231201",
    "com.amazonaws.codestar.connections.CodeStar_connections_20191201",
];

/// The media type a JSON body of an operation with these fixed headers goes out as: the AWS JSON
/// protocol's when one of them is `X-Amz-Target`, else `None` (the description's stands).
pub(super) fn media_type(fixed_headers: &[(String, String)]) -> Option<&'static str> {
    let (_, target) = fixed_headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("x-amz-target"))?;
    let prefix = target.rsplit_once('.').map_or(target.as_str(), |(p, _)| p);
    Some(if JSON_1_0.contains(&prefix) {
        "application/x-amz-json-1.0"
    } else {
        "application/x-amz-json-1.1"
    })
}

/// Give a JSON body the protocol's media type when the operation is one of the AWS JSON protocol.
pub(super) fn adjust(body: &mut Option<RequestBody>, fixed_headers: &[(String, String)]) {
    if let (Some(b), Some(media)) = (body.as_mut(), media_type(fixed_headers))
        && matches!(b.kind, BodyKind::Json)
        && b.media_type.eq_ignore_ascii_case("application/json")
    {
        b.media_type = media.to_owned();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(v: &str) -> Vec<(String, String)> {
        vec![("X-Amz-Target".to_owned(), v.to_owned())]
    }

    #[test]
    fn the_target_prefix_picks_the_version() {
        assert_eq!(
            media_type(&target("DynamoDB_20120810.GetItem")),
            Some("application/x-amz-json-1.0")
        );
        assert_eq!(
            media_type(&target("Kinesis_20131202.PutRecord")),
            Some("application/x-amz-json-1.1")
        );
        assert_eq!(
            media_type(&target(
                "com.amazonaws.codeconnections.CodeConnections_20231201.ListHosts"
            )),
            Some("application/x-amz-json-1.0")
        );
        assert_eq!(media_type(&[("X-Other".into(), "a.b".into())]), None);
    }
}
