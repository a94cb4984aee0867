using System.Numerics;
using System.Text.Json.Nodes;
using Blnk.Core.Balances;
using Blnk.Core.Identities;
using Blnk.Core.Ledgers;
using Blnk.Core.Monitors;
using Blnk.Core.Money;
using Blnk.Core.Transactions;
using Blnk.Server.Json;
using Blnk.Storage;

namespace Blnk.Server.Features;

/// <summary>Domain records → Blnk's wire shapes.</summary>
public static class WireMapping
{
    public static LedgerResponse ToWire(this Ledger ledger) => new()
    {
        LedgerId = ledger.LedgerId,
        Name = ledger.Name,
        CreatedAt = ledger.CreatedAt,
        MetaData = ParseObject(ledger.MetaDataJson),
    };

    public static IdentityResponse ToWire(this Identity identity) => new()
    {
        IdentityId = identity.IdentityId,
        IdentityType = identity.IdentityType,
        OrganizationName = identity.OrganizationName,
        Category = identity.Category,
        FirstName = identity.FirstName,
        LastName = identity.LastName,
        OtherNames = identity.OtherNames,
        Gender = identity.Gender,
        EmailAddress = identity.EmailAddress,
        PhoneNumber = identity.PhoneNumber,
        Nationality = identity.Nationality,
        Street = identity.Street,
        Country = identity.Country,
        State = identity.State,
        PostCode = identity.PostCode,
        City = identity.City,
        Dob = identity.Dob,
        CreatedAt = identity.CreatedAt,
        MetaData = ParseObject(identity.MetaDataJson),
    };

    public static BalanceResponse ToWire(this Balance balance, QueuedAmounts? queued = null,
        Ledger? ledger = null, Identity? identity = null) => new()
    {
        Balance = balance.Amounts.Balance,
        Version = balance.Version,
        InflightBalance = balance.Amounts.InflightBalance,
        CreditBalance = balance.Amounts.CreditBalance,
        InflightCreditBalance = balance.Amounts.InflightCreditBalance,
        DebitBalance = balance.Amounts.DebitBalance,
        InflightDebitBalance = balance.Amounts.InflightDebitBalance,
        QueuedDebitBalance = queued?.Debit,
        QueuedCreditBalance = queued?.Credit,
        LedgerId = balance.LedgerId,
        IdentityId = balance.IdentityId ?? "",
        BalanceId = balance.BalanceId,
        Indicator = string.IsNullOrEmpty(balance.Indicator) ? null : balance.Indicator,
        Currency = balance.Currency,
        Identity = identity?.ToWire(),
        Ledger = ledger?.ToWire(),
        CreatedAt = balance.CreatedAt,
        MetaData = ParseObject(balance.MetaDataJson),
        TrackFundLineage = balance.TrackFundLineage,
        AllocationStrategy = balance.AllocationStrategy,
    };

    public static TransactionResponse ToWire(this TransactionRecord row)
    {
        var metaData = ParseObject(row.MetaDataJson);
        return new TransactionResponse
        {
            PreciseAmount = row.PreciseAmount,
            Amount = Precision.ToAmount(row.PreciseAmount, row.Precision),
            AmountString = Precision.ToAmountString(row.PreciseAmount, row.Precision),
            Precision = row.Precision,
            OverdraftLimit = row.OverdraftLimit,
            TransactionId = row.TransactionId,
            ParentTransaction = row.ParentTransaction,
            Source = row.Source.Length > 0 ? row.Source : null,
            Destination = row.Destination.Length > 0 ? row.Destination : null,
            Reference = row.Reference,
            Currency = row.Currency,
            Description = row.Description,
            Status = row.Status,
            Hash = row.Hash,
            AllowOverdraft = row.AllowOverdraft,
            Inflight = row.Inflight,
            SkipQueue = row.SkipQueue,
            Atomic = row.Atomic,
            CreatedAt = row.CreatedAt,
            EffectiveDate = row.EffectiveDate,
            ScheduledFor = row.ScheduledFor,
            InflightExpiryDate = row.InflightExpiryDate,
            InflightCommitDate = row.InflightCommitDate,
            MetaData = metaData is { Count: > 0 } ? metaData : null,
        };
    }

    public static MonitorResponse ToWire(this BalanceMonitor monitor) => new()
    {
        MonitorId = monitor.MonitorId,
        BalanceId = monitor.BalanceId,
        Description = string.IsNullOrEmpty(monitor.Description) ? null : monitor.Description,
        CallBackUrl = string.IsNullOrEmpty(monitor.CallBackUrl) ? null : monitor.CallBackUrl,
        Trigger = monitor.Trigger,
        CreatedAt = monitor.CreatedAt,
        Condition = new MonitorConditionWire
        {
            Field = monitor.Condition.Field,
            Operator = monitor.Condition.Operator,
            Value = monitor.Condition.Value,
            Precision = new BigInteger(monitor.Condition.Precision),
            PreciseValue = monitor.Condition.PreciseValue,
        },
    };

    private static JsonObject? ParseObject(string? json) =>
        json is null ? null : JsonNode.Parse(json) as JsonObject;
}
