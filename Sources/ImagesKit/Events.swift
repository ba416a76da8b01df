import Foundation

/// What an event records.
public enum EventAction: String, Sendable, Codable, CaseIterable {
    /// A capture of a disk into an image.
    case diskImagize = "disk_imagize"
    /// An upload of an image file.
    case imageUpload = "image_upload"
    /// A change of label, description or tags.
    case imageUpdate = "image_update"
    /// A deletion.
    case imageDelete = "image_delete"
    /// An automatic removal: an expired recovery image or upload window.
    case imageExpire = "image_expire"
}

/// How far an event's action got.
public enum EventStatus: String, Sendable, Codable, CaseIterable {
    /// The action began.
    case started
    /// The action completed.
    case finished
    /// The action failed; the message says why.
    case failed
    /// Something worth knowing happened.
    case notification
}

/// One change to an image, as recorded in the store's log.
public struct ImageEvent: Hashable, Sendable, Codable {
    /// What happened.
    public var action: EventAction
    /// The image it happened to.
    public var entity: ImageID
    /// How far it got.
    public var status: EventStatus
    /// Why, for failures; a short note otherwise.
    public var message: String?
    /// When it happened.
    public var created: Date

    /// Creates an event.
    public init(action: EventAction, entity: ImageID, status: EventStatus, message: String?, created: Date) {
        self.action = action
        self.entity = entity
        self.status = status
        self.message = message
        self.created = created
    }

    enum CodingKeys: String, CodingKey {
        case action, entity, status, message, created
    }

    /// Decodes an event from its JSON form.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        action = try container.decode(EventAction.self, forKey: .action)
        entity = try container.decode(ImageID.self, forKey: .entity)
        status = try container.decode(EventStatus.self, forKey: .status)
        message = try container.decodeIfPresent(String.self, forKey: .message)
        let text = try container.decode(String.self, forKey: .created)
        guard let date = APITimestamp.parse(text) else {
            throw DecodingError.dataCorruptedError(forKey: .created, in: container, debugDescription: "bad timestamp")
        }
        created = date
    }

    /// Encodes an event in its JSON form, with the API's timestamps.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(action, forKey: .action)
        try container.encode(entity, forKey: .entity)
        try container.encode(status, forKey: .status)
        try container.encode(message, forKey: .message)
        try container.encode(APITimestamp.format(created), forKey: .created)
    }
}
