using System.Data.Common;
using Blnk.Core.Identities;

namespace Blnk.Storage;

/// <summary>How an identity insert ended: the primary key decides whether a caller-supplied id is taken.</summary>
public enum IdentityInsertOutcome
{
    Inserted,
    DuplicateId,
}

/// <summary>How an identity delete ended.</summary>
public enum IdentityDeleteOutcome
{
    Deleted,
    NotFound,

    /// <summary>Balances (or their fund lineage) still reference the identity; nothing was deleted.</summary>
    StillReferenced,
}

/// <summary>How linking a balance to an identity ended; the identity is checked first, as Blnk does.</summary>
public enum BalanceIdentityLinkOutcome
{
    Linked,
    UnknownIdentity,
    UnknownBalance,
}

/// <summary>
/// A partial update of an identity: a null member keeps the stored value. <see cref="MetaDataJson"/>, when
/// set, replaces the stored object (no merge).
/// </summary>
public sealed record IdentityChanges
{
    public string? IdentityType { get; init; }
    public string? OrganizationName { get; init; }
    public string? Category { get; init; }
    public string? FirstName { get; init; }
    public string? LastName { get; init; }
    public string? OtherNames { get; init; }
    public string? Gender { get; init; }
    public string? EmailAddress { get; init; }
    public string? PhoneNumber { get; init; }
    public string? Nationality { get; init; }
    public string? Street { get; init; }
    public string? Country { get; init; }
    public string? State { get; init; }
    public string? PostCode { get; init; }
    public string? City { get; init; }
    public DateTime? Dob { get; init; }
    public string? MetaDataJson { get; init; }

    /// <summary>True when the update would change nothing.</summary>
    public bool IsEmpty => this == new IdentityChanges();
}

public partial interface ILedgerStore
{
    /// <summary>Inserts an identity; <paramref name="events"/> are recorded in the same database transaction.</summary>
    Task<IdentityInsertOutcome> InsertIdentityAsync(Identity identity, CancellationToken cancellationToken,
        IReadOnlyList<OutboxEvent>? events = null);

    /// <summary>Identities, newest first.</summary>
    Task<IReadOnlyList<Identity>> ListIdentitiesAsync(int limit, int offset, CancellationToken cancellationToken);

    /// <summary>Writes the set members of <paramref name="changes"/>; false when no such identity exists.</summary>
    Task<bool> UpdateIdentityAsync(string identityId, IdentityChanges changes, CancellationToken cancellationToken);

    Task<IdentityDeleteOutcome> DeleteIdentityAsync(string identityId, CancellationToken cancellationToken);

    /// <summary>Sets a balance's identity_id, after checking that the identity exists.</summary>
    Task<BalanceIdentityLinkOutcome> LinkBalanceIdentityAsync(string balanceId, string identityId,
        CancellationToken cancellationToken);
}

public partial class SqlLedgerStore
{
    // One statement for every partial update: a NULL parameter keeps the column's value.
    private const string UpdateIdentitySql = "UPDATE identities SET " +
        "identity_type = COALESCE(@type, identity_type), " +
        "organization_name = COALESCE(@organization, organization_name), " +
        "category = COALESCE(@category, category), first_name = COALESCE(@first, first_name), " +
        "last_name = COALESCE(@last, last_name), other_names = COALESCE(@other, other_names), " +
        "gender = COALESCE(@gender, gender), email_address = COALESCE(@email, email_address), " +
        "phone_number = COALESCE(@phone, phone_number), nationality = COALESCE(@nationality, nationality), " +
        "street = COALESCE(@street, street), country = COALESCE(@country, country), " +
        "state = COALESCE(@state, state), post_code = COALESCE(@post, post_code), city = COALESCE(@city, city), " +
        "dob = COALESCE(@dob, dob), meta_data = COALESCE(@meta, meta_data) WHERE identity_id = @id";

    public async Task<IdentityInsertOutcome> InsertIdentityAsync(Identity identity,
        CancellationToken cancellationToken, IReadOnlyList<OutboxEvent>? events = null)
    {
        try
        {
            await WriteWithEventsAsync(command =>
            {
                command.CommandText = $"INSERT INTO identities ({IdentityColumns}) VALUES (@id, @type, " +
                    "@organization, @category, @first, @last, @other, @gender, @email, @phone, @nationality, " +
                    "@street, @country, @state, @post, @city, @dob, @created, @meta)";
                SqlDialect.Add(command, "id", identity.IdentityId);
                AddIdentityFields(command, ToChanges(identity));
                dialect.AddTime(command, "created", identity.CreatedAt);
                return command.ExecuteNonQueryAsync(cancellationToken);
            }, events, cancellationToken);
            return IdentityInsertOutcome.Inserted;
        }
        catch (DbException exception) when (dialect.IsUniqueViolation(exception, out _))
        {
            // The primary key is the table's only unique constraint.
            return IdentityInsertOutcome.DuplicateId;
        }
    }

    public Task<IReadOnlyList<Identity>> ListIdentitiesAsync(int limit, int offset,
        CancellationToken cancellationToken) =>
        QueryAsync($"SELECT {IdentityColumns} FROM identities ORDER BY created_at DESC, identity_id " +
            "LIMIT @limit OFFSET @offset", command => AddPage(command, limit, offset), ReadIdentity, cancellationToken);

    public async Task<bool> UpdateIdentityAsync(string identityId, IdentityChanges changes,
        CancellationToken cancellationToken)
    {
        Core.Invariant.Assert(!changes.IsEmpty);
        return await ExecuteAsync(UpdateIdentitySql, command =>
        {
            SqlDialect.Add(command, "id", identityId);
            AddIdentityFields(command, changes);
        }, cancellationToken) == 1;
    }

    public async Task<IdentityDeleteOutcome> DeleteIdentityAsync(string identityId,
        CancellationToken cancellationToken)
    {
        try
        {
            var deleted = await ExecuteAsync("DELETE FROM identities WHERE identity_id = @id",
                command => SqlDialect.Add(command, "id", identityId), cancellationToken);
            return deleted == 1 ? IdentityDeleteOutcome.Deleted : IdentityDeleteOutcome.NotFound;
        }
        catch (DbException exception) when (dialect.IsForeignKeyViolation(exception))
        {
            return IdentityDeleteOutcome.StillReferenced;
        }
    }

    public async Task<BalanceIdentityLinkOutcome> LinkBalanceIdentityAsync(string balanceId, string identityId,
        CancellationToken cancellationToken)
    {
        await using var connection = await dialect.OpenAsync(cancellationToken);
        await using var dbTransaction = await dialect.BeginWriteAsync(connection, cancellationToken);
        await using var command = connection.CreateCommand();
        command.Transaction = dbTransaction;
        // Checked before the balance so that both missing reports the identity, as Blnk does.
        command.CommandText = "SELECT COUNT(*) FROM identities WHERE identity_id = @identity";
        SqlDialect.Add(command, "identity", identityId);
        if (Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken),
                System.Globalization.CultureInfo.InvariantCulture) == 0)
        {
            return BalanceIdentityLinkOutcome.UnknownIdentity;
        }
        command.CommandText = "UPDATE balances SET identity_id = @identity WHERE balance_id = @balance";
        SqlDialect.Add(command, "balance", balanceId);
        try
        {
            if (await command.ExecuteNonQueryAsync(cancellationToken) == 0)
            {
                return BalanceIdentityLinkOutcome.UnknownBalance;
            }
        }
        catch (DbException exception) when (dialect.IsForeignKeyViolation(exception))
        {
            // The identity was deleted between the check and the update.
            return BalanceIdentityLinkOutcome.UnknownIdentity;
        }
        await dbTransaction.CommitAsync(cancellationToken);
        return BalanceIdentityLinkOutcome.Linked;
    }

    /// <summary>An identity's stored fields as a full set of changes; unset text is "" and never NULL.</summary>
    private static IdentityChanges ToChanges(Identity identity) => new()
    {
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
        MetaDataJson = identity.MetaDataJson,
    };

    private void AddIdentityFields(DbCommand command, IdentityChanges fields)
    {
        SqlDialect.Add(command, "type", fields.IdentityType);
        SqlDialect.Add(command, "organization", fields.OrganizationName);
        SqlDialect.Add(command, "category", fields.Category);
        SqlDialect.Add(command, "first", fields.FirstName);
        SqlDialect.Add(command, "last", fields.LastName);
        SqlDialect.Add(command, "other", fields.OtherNames);
        SqlDialect.Add(command, "gender", fields.Gender);
        SqlDialect.Add(command, "email", fields.EmailAddress);
        SqlDialect.Add(command, "phone", fields.PhoneNumber);
        SqlDialect.Add(command, "nationality", fields.Nationality);
        SqlDialect.Add(command, "street", fields.Street);
        SqlDialect.Add(command, "country", fields.Country);
        SqlDialect.Add(command, "state", fields.State);
        SqlDialect.Add(command, "post", fields.PostCode);
        SqlDialect.Add(command, "city", fields.City);
        dialect.AddTime(command, "dob", fields.Dob);
        dialect.AddJson(command, "meta", fields.MetaDataJson);
    }
}
