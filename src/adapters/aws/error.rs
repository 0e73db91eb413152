//! One line for a failed AWS call: which call, on what, why, and what to do about it. Every
//! AWS adapter (ECS, ECR, SSM, the SSM ledger) words its errors here, so none shows the SDK's
//! debug structs.

use aws_sdk_ecs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::util::redact;

/// `SERVICE CALL on RESOURCE: CODE: message; FIX`, on one line, secrets redacted. `service` is
/// the IAM prefix (`ecs`, `ecr`, `ssm`), `call` the API action (`UpdateService`).
pub fn describe<E, R>(service: &str, call: &str, resource: &str, e: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let what = format!("{} {call} on {resource}", service.to_ascii_uppercase());
    let text = match e {
        SdkError::ServiceError(_) => refused(
            service,
            call,
            resource,
            e.code().unwrap_or("UnknownError"),
            e.message().unwrap_or("no message"),
        ),
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => format!(
            "{what} could not reach AWS ({}); check the network, AWS_REGION and AWS_ENDPOINT_URL, then run the same command again",
            DisplayErrorContext(e)
        ),
        _ => format!("{what} failed: {}", DisplayErrorContext(e)),
    };
    redact::redact(&one_line(&text)).into_owned()
}

/// Why a call failed, for callers whose own message already names the call and resource:
/// `CODE: message; FIX`, or why AWS could not be reached; one line, secrets redacted.
pub fn reason<E, R>(service: &str, call: &str, e: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let text = match e {
        SdkError::ServiceError(_) => answer(
            service,
            call,
            e.code().unwrap_or("UnknownError"),
            e.message().unwrap_or("no message"),
        ),
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => format!(
            "could not reach AWS ({}); check the network, AWS_REGION and AWS_ENDPOINT_URL, then run the same command again",
            DisplayErrorContext(e)
        ),
        _ => DisplayErrorContext(e).to_string(),
    };
    redact::redact(&one_line(&text)).into_owned()
}

/// [`reason`] for the error of a service answer already taken out of its `SdkError`.
pub fn reason_of<E: ProvideErrorMetadata>(service: &str, call: &str, e: &E) -> String {
    let text = answer(
        service,
        call,
        e.code().unwrap_or("UnknownError"),
        e.message().unwrap_or("no message"),
    );
    redact::redact(&one_line(&text)).into_owned()
}

/// `CODE: message; FIX` for an error AWS answered with.
fn answer(service: &str, call: &str, code: &str, message: &str) -> String {
    match fix(service, call, code) {
        Some(fix) => format!("{code}: {message}; {fix}"),
        None => format!("{code}: {message}"),
    }
}

/// The line for an error AWS answered with.
fn refused(service: &str, call: &str, resource: &str, code: &str, message: &str) -> String {
    let what = format!("{} {call} on {resource}", service.to_ascii_uppercase());
    format!(
        "{what} was refused: {}",
        answer(service, call, code, message)
    )
}

/// What to do about an error code, if there is a usual fix.
fn fix(service: &str, call: &str, code: &str) -> Option<String> {
    let lower = code.to_ascii_lowercase();
    if lower.contains("accessdenied") || lower.contains("unauthorized") {
        Some(format!(
            "grant the IAM permission {service}:{call} to the credentials this runs with"
        ))
    } else if lower.contains("throttl")
        || lower.contains("toomanyrequests")
        || code == "RequestLimitExceeded"
        || code == "TooManyUpdates"
    {
        Some("AWS throttled the call longer than the SDK retries; wait a minute and run the same command again".into())
    } else if code == "ClusterNotFoundException" {
        Some("check `cluster` of the environment and AWS_REGION".into())
    } else if code == "ServiceNotFoundException" || code == "ServiceNotActiveException" {
        Some("the service is missing or deleted (INACTIVE): check `services` of the environment, or recreate the service".into())
    } else if lower.contains("expiredtoken")
        || lower.contains("unrecognizedclient")
        || lower.contains("invalidclienttokenid")
        || lower.contains("signature")
    {
        Some("the AWS credentials are invalid or expired: refresh them".into())
    } else {
        None
    }
}

/// The text with every run of line breaks and indentation folded into one space.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_names_the_call_the_resource_and_the_fix() {
        let line = one_line(&refused(
            "ecs",
            "UpdateService",
            "service worker in cluster prod",
            "AccessDeniedException",
            "User: x is not\n  authorized",
        ));
        assert_eq!(
            line,
            "ECS UpdateService on service worker in cluster prod was refused: AccessDeniedException: User: x is not authorized; grant the IAM permission ecs:UpdateService to the credentials this runs with"
        );
        let line = refused(
            "ecs",
            "DescribeServices",
            "cluster prod",
            "ThrottlingException",
            "Rate exceeded",
        );
        assert!(
            line.contains("ThrottlingException: Rate exceeded; AWS throttled"),
            "{line}"
        );
        let line = refused(
            "ecs",
            "DescribeServices",
            "cluster nope",
            "ClusterNotFoundException",
            "Cluster not found.",
        );
        assert!(
            line.ends_with("check `cluster` of the environment and AWS_REGION"),
            "{line}"
        );
        let line = refused("ssm", "PutParameter", "x", "TooManyUpdates", "m");
        assert!(line.contains("throttled"), "{line}");
        let line = refused("ssm", "PutParameter", "x", "ParameterLimitExceeded", "m");
        assert!(
            !line.contains("throttled"),
            "a quota is not throttling: {line}"
        );
        assert!(refused(
            "ecr",
            "PutImage",
            "r",
            "ImageTagAlreadyExistsException",
            "m"
        )
        .ends_with(": m"));
    }
}
