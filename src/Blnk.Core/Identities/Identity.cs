namespace Blnk.Core.Identities;

/// <summary>A customer or organisation that owns balances (contract §4.6). Empty strings stand for unset text.</summary>
public sealed record Identity
{
    public required string IdentityId { get; init; }
    public string IdentityType { get; init; } = "";
    public string OrganizationName { get; init; } = "";
    public string Category { get; init; } = "";
    public string FirstName { get; init; } = "";
    public string LastName { get; init; } = "";
    public string OtherNames { get; init; } = "";
    public string Gender { get; init; } = "";
    public string EmailAddress { get; init; } = "";
    public string PhoneNumber { get; init; } = "";
    public string Nationality { get; init; } = "";
    public string Street { get; init; } = "";
    public string Country { get; init; } = "";
    public string State { get; init; } = "";
    public string PostCode { get; init; } = "";
    public string City { get; init; } = "";
    public DateTime? Dob { get; init; }
    public required DateTime CreatedAt { get; init; }
    public string? MetaDataJson { get; init; }
}
