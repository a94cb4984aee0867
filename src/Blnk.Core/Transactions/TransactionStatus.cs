namespace Blnk.Core.Transactions;

/// <summary>Blnk's transaction statuses, as they appear on the wire and in storage.</summary>
public static class TransactionStatus
{
    public const string Queued = "QUEUED";
    public const string Scheduled = "SCHEDULED";
    public const string Applied = "APPLIED";
    public const string Inflight = "INFLIGHT";
    public const string Rejected = "REJECTED";
    public const string Void = "VOID";
}
