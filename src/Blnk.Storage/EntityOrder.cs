namespace Blnk.Storage;

/// <summary>
/// How a work table is claimed in order per entity: a candidate row <c>o</c> matching <see cref="Pending"/> is only
/// due when no earlier row <c>p</c> matching <see cref="EarlierPending"/> has one of its entities (one of
/// <see cref="SameEntity"/> relates <c>p</c> to <c>o</c>).
/// </summary>
/// <param name="Pending">The table's rows still to do, unqualified (as its partial pending index says).</param>
/// <param name="EarlierPending">The same condition on <c>p</c>.</param>
/// <param name="SameEntity">
/// Each way <c>p</c> can share an entity with <c>o</c>, as equalities an index answers.
/// </param>
public sealed record EntityOrder(string Pending, string EarlierPending, IReadOnlyList<string> SameEntity);
