"""Protocol stand-ins for the providers kassa talks to: loopback HTTP servers that speak each
provider's wire protocol closely enough that the official SDKs run against them unchanged."""
