"""Deploy-time work run by CloudFormation: custom resources and what they run."""
