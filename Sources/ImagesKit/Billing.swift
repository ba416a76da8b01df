import Foundation

/// A fact billing needs: an image's copy in a region began or ended.
public struct UsageRecord: Hashable, Sendable {
    /// Whether the copy began or ended.
    public enum Kind: String, Sendable, Codable {
        /// The copy became available and starts accruing.
        case started
        /// The copy was removed and stops accruing.
        case ended
    }

    /// Began or ended.
    public var kind: Kind
    /// The image.
    public var image: ImageID
    /// The region of the copy.
    public var region: String
    /// Uncompressed bytes billed.
    public var byteCount: UInt64
    /// Manual images are billed; recovery images are free.
    public var type: ImageType
    /// When it happened; the ledger keeps whole seconds.
    public var time: Date
    /// The account the copy is charged to.
    public var account: String

    /// Creates a usage record.
    ///
    /// - Parameters:
    ///   - kind: Began or ended.
    ///   - image: The image.
    ///   - region: The region of the copy.
    ///   - byteCount: Uncompressed bytes billed.
    ///   - type: The image's type, which decides whether it is free.
    ///   - time: When it happened.
    ///   - account: The account charged; `default` when the application has only one.
    public init(
        kind: Kind, image: ImageID, region: String, byteCount: UInt64, type: ImageType, time: Date,
        account: String = "default"
    ) {
        self.kind = kind
        self.image = image
        self.region = region
        self.byteCount = byteCount
        self.type = type
        self.time = time
        self.account = account
    }

    /// The billed size: megabytes rounded up, over 1000 (1 GB = 1000 MB = 10⁹ bytes).
    public var gigabytes: Decimal {
        Decimal(Image.megabytes(byteCount)) / 1000
    }
}

extension UsageRecord: Codable {
    enum CodingKeys: String, CodingKey {
        case kind, image, region, type, time, account
        case byteCount = "byte_count"
    }

    /// Decodes a record from its ledger JSON, with snake_case keys and an API timestamp.
    ///
    /// - Throws: `DecodingError` when a field is missing or the time is not like `2026-12-04T15:09:43`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        kind = try container.decode(Kind.self, forKey: .kind)
        image = try container.decode(ImageID.self, forKey: .image)
        region = try container.decode(String.self, forKey: .region)
        byteCount = try container.decode(UInt64.self, forKey: .byteCount)
        type = try container.decode(ImageType.self, forKey: .type)
        account = try container.decode(String.self, forKey: .account)

        let text = try container.decode(String.self, forKey: .time)
        guard let time = APITimestamp.parse(text) else {
            throw DecodingError.dataCorruptedError(
                forKey: .time, in: container, debugDescription: "not a timestamp like 2026-12-04T15:09:43: \(text)")
        }
        self.time = time
    }

    /// Encodes the record as its ledger JSON; the time loses any fraction of a second.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind, forKey: .kind)
        try container.encode(image, forKey: .image)
        try container.encode(region, forKey: .region)
        try container.encode(byteCount, forKey: .byteCount)
        try container.encode(type, forKey: .type)
        try container.encode(APITimestamp.format(time), forKey: .time)
        try container.encode(account, forKey: .account)
    }
}

/// Receives what is needed to charge for stored images.
public protocol Billing: Sendable {
    /// Records that a copy began or ended.
    ///
    /// - Parameter usage: The fact.
    /// - Throws: Whatever the billing backend reports; the service logs it and goes on.
    func record(_ usage: UsageRecord) async throws
}

/// Billing that records nothing.
public struct NoBilling: Billing {
    /// Creates the do-nothing billing.
    public init() {}

    /// Does nothing.
    public func record(_ usage: UsageRecord) async throws {}
}

/// Keeps usage records, oldest first, for invoices to be computed from.
public protocol UsageLedger: Sendable {
    /// Adds a record after every record already kept.
    ///
    /// - Parameter usage: The record.
    /// - Throws: ``ImagesKitError`` when the record could not be kept.
    func append(_ usage: UsageRecord) async throws

    /// Returns every record kept, in the order they were appended.
    ///
    /// - Returns: The records of every account.
    /// - Throws: ``ImagesKitError`` when the ledger can't be read or holds a damaged record.
    func usage() async throws -> [UsageRecord]
}

/// The prices invoices are computed with; an application may replace any of them.
public struct RateCard: Hashable, Sendable {
    /// The price of one GB kept for a whole month.
    public var pricePerGBMonth: Decimal
    /// The hours a monthly price is spread over: the hourly price is the monthly one over this.
    public var hoursPerMonth: Int
    /// The currency of the prices, such as `USD`.
    public var currency: String
    /// The first moment charged; hours that begin earlier are free.
    public var billingStart: Date
    /// Image types that are never charged.
    public var freeTypes: Set<ImageType>

    /// The day the product started charging: 2021-09-01T00:00:00 UTC.
    public static let productBillingStart = Date(timeIntervalSince1970: 1_630_454_400)

    /// The product's own prices: $0.10 per GB-month over 730 hours, recovery images free.
    public static let standard = RateCard()

    /// Creates a rate card; every value defaults to the product's.
    ///
    /// - Parameters:
    ///   - pricePerGBMonth: The price of one GB for a month; not negative.
    ///   - hoursPerMonth: The hours the monthly price is spread over; positive.
    ///   - currency: The currency's code.
    ///   - billingStart: Hours beginning before this are free.
    ///   - freeTypes: Image types never charged.
    public init(
        pricePerGBMonth: Decimal = Decimal(sign: .plus, exponent: -2, significand: 10),
        hoursPerMonth: Int = 730,
        currency: String = "USD",
        billingStart: Date = RateCard.productBillingStart,
        freeTypes: Set<ImageType> = [.automatic]
    ) {
        self.pricePerGBMonth = pricePerGBMonth
        self.hoursPerMonth = hoursPerMonth
        self.currency = currency
        self.billingStart = billingStart
        self.freeTypes = freeTypes
    }

    func validate() throws {
        guard hoursPerMonth > 0, pricePerGBMonth >= 0 else {
            throw ImagesKitError(
                .invalidArgument,
                "the rate card needs a positive hoursPerMonth and a price that is not negative; "
                    + "got \(hoursPerMonth) hours and \(pricePerGBMonth) \(currency)")
        }
    }
}

/// Billing that keeps every record in a ledger, computes invoices from it, and passes each record
/// on to the application's own billing when there is one.
public struct MeteredBilling: Billing {
    /// Where records are kept.
    public let ledger: any UsageLedger
    /// The prices invoices use.
    public let rateCard: RateCard
    /// The application's billing, which receives every record after the ledger has kept it.
    public let downstream: (any Billing)?

    /// Creates metered billing.
    ///
    /// - Parameters:
    ///   - ledger: Where records are kept.
    ///   - rateCard: The prices; the product's by default.
    ///   - downstream: Billing that receives each record after the ledger, if any.
    public init(
        ledger: any UsageLedger, rateCard: RateCard = .standard, forwardingTo downstream: (any Billing)? = nil
    ) {
        self.ledger = ledger
        self.rateCard = rateCard
        self.downstream = downstream
    }

    /// Keeps the record in the ledger, then passes it to the downstream billing.
    ///
    /// - Parameter usage: The fact.
    /// - Throws: The ledger's error, in which case nothing is forwarded, or the downstream's error.
    public func record(_ usage: UsageRecord) async throws {
        try await ledger.append(usage)
        try await downstream?.record(usage)
    }

    /// Computes an account's charges for the hours that begin in a period.
    ///
    /// - Parameters:
    ///   - account: The account charged.
    ///   - from: The period's first moment (whole seconds count).
    ///   - to: The moment after the period's last; copies still running accrue until here.
    ///   - asOf: The present, for a period that has not ended: copies still running accrue only
    ///     until then. By default they accrue to the period's end.
    /// - Returns: One line per image and region with hours in the period.
    /// - Throws: ``ImagesKitError`` with `invalid_argument` when `from` is not before `to` or the
    ///   rate card is unusable; the ledger's error when it can't be read.
    public func invoice(account: String, from: Date, to: Date, asOf: Date? = nil) async throws -> Invoice {
        let period = try BillingPeriod(from: from, to: to)
        try rateCard.validate()

        let records = try await ledger.usage().filter { $0.account == account }
        let present = asOf.map(BillingPeriod.seconds) ?? period.end
        let pricing = InvoicePricing(
            rateCard: rateCard, period: period, openEnd: max(period.start, min(period.end, present)))
        let lines = CopyUsage.pairing(records).compactMap(pricing.line).sorted(by: InvoiceLine.billingOrder)
        return Invoice(account: account, from: from, to: to, currency: rateCard.currency, lines: lines)
    }
}

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
