import Foundation

/// What an account owes for a period: one line per image and region.
public struct Invoice: Hashable, Sendable {
    /// The account charged.
    public var account: String
    /// The period's first moment.
    public var from: Date
    /// The moment after the period's last.
    public var to: Date
    /// The currency of every amount.
    public var currency: String
    /// The charges, ordered by image number, then region.
    public var lines: [InvoiceLine]

    /// Creates an invoice.
    ///
    /// - Parameters:
    ///   - account: The account charged.
    ///   - from: The period's first moment.
    ///   - to: The moment after the period's last.
    ///   - currency: The currency of every amount.
    ///   - lines: The charges.
    public init(account: String, from: Date, to: Date, currency: String, lines: [InvoiceLine]) {
        self.account = account
        self.from = from
        self.to = to
        self.currency = currency
        self.lines = lines
    }

    /// The sum of the lines' amounts, each already rounded to the cent.
    public var total: Decimal {
        lines.reduce(Decimal(0)) { $0 + $1.amount }
    }

    /// Writes an amount with exactly two decimal places, rounding half up, as in `12.00`.
    ///
    /// - Parameter amount: Any amount.
    /// - Returns: Text such as `0.05` or `-3.10`, with `.` as the separator whatever the locale.
    public static func format(_ amount: Decimal) -> String {
        let rounded = roundedToCent(amount)
        let cents = (rounded * 100).magnitude.description
        let digits = String(repeating: "0", count: max(0, 3 - cents.count)) + cents
        let sign = rounded < 0 ? "-" : ""
        return "\(sign)\(digits.dropLast(2)).\(digits.suffix(2))"
    }

    /// Rounds to the cent, halves away from zero (half up for the amounts billing makes).
    ///
    /// - Parameter amount: Any amount.
    /// - Returns: The amount with at most two decimal places.
    public static func roundedToCent(_ amount: Decimal) -> Decimal {
        var exact = amount
        var rounded = Decimal()
        NSDecimalRound(&rounded, &exact, 2, .plain)
        return rounded
    }
}

/// The charge for one image's copy in one region over an invoice's period.
public struct InvoiceLine: Hashable, Sendable {
    /// The image.
    public var image: ImageID
    /// The region of the copy.
    public var region: String
    /// The billed hours that begin in the period.
    public var hours: Int
    /// The billed size in GB of 1000 MB.
    public var gigabytes: Decimal
    /// The charge, rounded half up to the cent; zero for free images.
    public var amount: Decimal

    /// Creates an invoice line.
    ///
    /// - Parameters:
    ///   - image: The image.
    ///   - region: The region of the copy.
    ///   - hours: The billed hours that begin in the period.
    ///   - gigabytes: The billed size.
    ///   - amount: The charge, rounded to the cent.
    public init(image: ImageID, region: String, hours: Int, gigabytes: Decimal, amount: Decimal) {
        self.image = image
        self.region = region
        self.hours = hours
        self.gigabytes = gigabytes
        self.amount = amount
    }

    static func billingOrder(_ lhs: InvoiceLine, _ rhs: InvoiceLine) -> Bool {
        (lhs.image, lhs.region) < (rhs.image, rhs.region)
    }
}

extension Invoice: Encodable {
    enum CodingKeys: String, CodingKey {
        case account, from, to, currency, lines, total
    }

    /// Encodes the invoice with API timestamps and amounts as two-place decimal strings.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(account, forKey: .account)
        try container.encode(APITimestamp.format(from), forKey: .from)
        try container.encode(APITimestamp.format(to), forKey: .to)
        try container.encode(currency, forKey: .currency)
        try container.encode(lines, forKey: .lines)
        try container.encode(Self.format(total), forKey: .total)
    }
}

extension InvoiceLine: Encodable {
    enum CodingKeys: String, CodingKey {
        case image, region, hours, amount
        case gigabytes = "gb"
    }

    /// Encodes the line with `gb` as a plain decimal string and `amount` with two places.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(image, forKey: .image)
        try container.encode(region, forKey: .region)
        try container.encode(hours, forKey: .hours)
        try container.encode(gigabytes.description, forKey: .gigabytes)
        try container.encode(Invoice.format(amount), forKey: .amount)
    }
}

/// An invoice's period in whole seconds since 1970, half-open.
struct BillingPeriod {
    let start: Int64
    let end: Int64

    init(from: Date, to: Date) throws {
        start = Self.seconds(from)
        end = Self.seconds(to)
        guard start < end else {
            throw ImagesKitError(
                .invalidArgument,
                "the invoice period must end after it starts; got from \(APITimestamp.format(from)) "
                    + "to \(APITimestamp.format(to))")
        }
    }

    static func seconds(_ date: Date) -> Int64 {
        Int64(date.timeIntervalSince1970.rounded(.down))
    }

    /// The calendar months that hold at least one second of the period, in order.
    var months: [BillingMonth] {
        var months: [BillingMonth] = []
        var month = BillingMonth(containing: start)
        while month.start < end {
            months.append(month)
            month = BillingMonth(containing: month.end)
        }
        return months
    }
}

/// A calendar month in UTC, as whole seconds since 1970: [start, end).
struct BillingMonth {
    let start: Int64
    let end: Int64

    init(containing second: Int64) {
        var time = time_t(second)
        var parts = tm()
        gmtime_r(&time, &parts)
        parts.tm_mday = 1
        parts.tm_hour = 0
        parts.tm_min = 0
        parts.tm_sec = 0
        start = Int64(timegm(&parts))

        // timegm carries a thirteenth month into January of the next year.
        parts.tm_mon += 1
        end = Int64(timegm(&parts))
    }
}

/// One stretch of a copy's life in whole seconds since 1970; an open one runs to the period's end.
struct CopyLifetime {
    static let hour: Int64 = 3600

    let start: Int64
    var end: Int64?

    /// The billed hours that begin in [lower, upper), each hour counted from the start.
    func hoursBeginning(in lower: Int64, _ upper: Int64, periodEnd: Int64) -> Int64 {
        let billed = Self.hoursCovering(start, end ?? periodEnd)
        let first = min(billed, Self.hoursCovering(start, lower))
        let last = min(billed, Self.hoursCovering(start, upper))
        return max(0, last - first)
    }

    /// The number of hours beginning at or after `start` and before `moment`: a started hour counts whole.
    static func hoursCovering(_ start: Int64, _ moment: Int64) -> Int64 {
        let seconds = moment - start
        guard seconds > 0 else { return 0 }
        return (seconds + hour - 1) / hour
    }
}

/// The life of one image's copy in one region, paired from its usage records.
struct CopyUsage {
    let image: ImageID
    let region: String
    let gigabytes: Decimal
    let type: ImageType
    var lifetimes: [CopyLifetime]

    /// Pairs each copy's records, in the order the ledger holds them, into lifetimes; a start
    /// while running and an end without a start change nothing. The first start gives the size
    /// and type: images never change.
    ///
    /// The ledger's order is the order things happened to one copy, since operations on an image
    /// never overlap; the records' times can disagree with it when a clock was set back.
    static func pairing(_ records: [UsageRecord]) -> [CopyUsage] {
        var copies: [CopyKey: CopyUsage] = [:]
        for record in records {
            let key = CopyKey(image: record.image, region: record.region)
            copies[key, default: CopyUsage(first: record)].apply(record)
        }
        return Array(copies.values)
    }

    private init(first record: UsageRecord) {
        image = record.image
        region = record.region
        gigabytes = record.gigabytes
        type = record.type
        lifetimes = []
    }

    private var isRunning: Bool {
        lifetimes.last.map { $0.end == nil } ?? false
    }

    private mutating func apply(_ record: UsageRecord) {
        let second = BillingPeriod.seconds(record.time)
        switch record.kind {
        case .started where !isRunning:
            lifetimes.append(CopyLifetime(start: second))
        case .ended where isRunning:
            // A clock that went back must not leave the copy running: it ends where it began.
            let start = lifetimes[lifetimes.count - 1].start
            lifetimes[lifetimes.count - 1].end = max(second, start)
        case .started, .ended:
            break
        }
    }

    func hoursBeginning(in lower: Int64, _ upper: Int64, periodEnd: Int64) -> Int64 {
        lifetimes.reduce(0) { $0 + $1.hoursBeginning(in: lower, upper, periodEnd: periodEnd) }
    }
}

struct CopyKey: Hashable {
    let image: ImageID
    let region: String
}

/// Prices copies over one period with one rate card.
struct InvoicePricing {
    let rateCard: RateCard
    let period: BillingPeriod
    /// Where copies still running stop accruing: the period's end, or the present if earlier.
    let openEnd: Int64

    /// The copy's line, or `nil` when none of its billed hours begin in the period.
    ///
    /// Each month's charge is the capped charge of its hours begun before the period's end, less
    /// that of its hours begun before the period's start, so invoices that split a month add up
    /// to the invoice over the whole month.
    func line(for copy: CopyUsage) -> InvoiceLine? {
        let monthlyPrice = rateCard.freeTypes.contains(copy.type) ? 0 : copy.gigabytes * rateCard.pricePerGBMonth
        var hours: Int64 = 0
        var charge = Decimal(0)
        for month in period.months {
            let before = billedHours(of: copy, in: month, before: period.start)
            let through = billedHours(of: copy, in: month, before: period.end)
            hours += through - before
            charge += capped(through, monthlyPrice) - capped(before, monthlyPrice)
        }
        guard hours > 0 else { return nil }

        return InvoiceLine(
            image: copy.image, region: copy.region, hours: Int(hours), gigabytes: copy.gigabytes,
            amount: Invoice.roundedToCent(charge))
    }

    /// The copy's billed hours that begin in `month`, from the billing start, before `moment`.
    private func billedHours(of copy: CopyUsage, in month: BillingMonth, before moment: Int64) -> Int64 {
        let lower = max(month.start, BillingPeriod.seconds(rateCard.billingStart))
        let upper = min(month.end, moment)
        guard lower < upper else { return 0 }
        return copy.hoursBeginning(in: lower, upper, periodEnd: openEnd)
    }

    /// The charge for `hours` of one month: the hourly price times the hours, at most the monthly price.
    private func capped(_ hours: Int64, _ monthlyPrice: Decimal) -> Decimal {
        // Multiplying before the one division keeps 730 hours at exactly the monthly price.
        min(Decimal(hours) * monthlyPrice / Decimal(rateCard.hoursPerMonth), monthlyPrice)
    }
}
