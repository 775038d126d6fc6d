//! Who may change a conversation's membership: the rules every backend
//! applies inside its write transaction, so that a check and the change it
//! allows can never be separated by a concurrent write.
use crate::{ConversationKind, Error, Role, UserId};

/// A requested change to a conversation's members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberChange {
    /// Add a user as a plain member.
    Add(UserId),
    /// Remove another member.
    Remove(UserId),
    /// The actor leaves.
    Leave,
    /// Make another member an admin or a plain member.
    SetRole(UserId, Role),
    /// Hand ownership to another member; the old owner becomes an admin.
    TransferOwnership(UserId),
}

/// Decides whether `actor_role` may make `change` in a conversation of
/// `kind`, where `target_role` is the target's current role (`None` when the
/// target is not a member). `actor_role` is `None` for a non-member, who is
/// answered [`Error::NotFound`] so that the conversation's existence stays
/// hidden.
pub fn check_member_change(
    kind: ConversationKind,
    actor_role: Option<Role>,
    target_role: Option<Role>,
    change: MemberChange,
) -> Result<(), Error> {
    let Some(actor) = actor_role else {
        return Err(Error::NotFound("conversation"));
    };
    if kind == ConversationKind::Direct {
        return Err(Error::Conflict(
            "a direct conversation always has exactly its two members",
        ));
    }
    match change {
        MemberChange::Leave => Ok(()),
        MemberChange::Add(_) => {
            if actor < Role::Admin {
                return Err(Error::Forbidden("only admins and the owner add members"));
            }
            if target_role.is_some() {
                return Err(Error::Conflict("already a member"));
            }
            Ok(())
        }
        MemberChange::Remove(_) => {
            let Some(target) = target_role else {
                return Err(Error::NotFound("member"));
            };
            if actor < Role::Admin {
                return Err(Error::Forbidden("only admins and the owner remove members"));
            }
            if target >= actor {
                return Err(Error::Forbidden(
                    "a member can only be removed by someone of a higher role",
                ));
            }
            Ok(())
        }
        MemberChange::SetRole(_, role) => {
            let Some(target) = target_role else {
                return Err(Error::NotFound("member"));
            };
            if actor != Role::Owner {
                return Err(Error::Forbidden("only the owner changes roles"));
            }
            if role == Role::Owner || target == Role::Owner {
                return Err(Error::Conflict(
                    "use the ownership transfer to change owners",
                ));
            }
            Ok(())
        }
        MemberChange::TransferOwnership(_) => {
            if target_role.is_none() {
                return Err(Error::NotFound("member"));
            }
            if actor != Role::Owner {
                return Err(Error::Forbidden("only the owner hands over ownership"));
            }
            if target_role == Some(Role::Owner) {
                return Err(Error::Conflict("already the owner"));
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConversationKind::*;
    use Role::*;

    #[test]
    fn non_members_see_nothing() {
        let r = check_member_change(Group, None, None, MemberChange::Leave);
        assert!(matches!(r, Err(Error::NotFound(_))));
    }

    #[test]
    fn direct_conversations_are_fixed() {
        let r = check_member_change(Direct, Some(Member), None, MemberChange::Add(3));
        assert!(matches!(r, Err(Error::Conflict(_))));
        let r = check_member_change(Direct, Some(Member), None, MemberChange::Leave);
        assert!(matches!(r, Err(Error::Conflict(_))));
    }

    #[test]
    fn only_admins_add_and_remove() {
        assert!(check_member_change(Group, Some(Admin), None, MemberChange::Add(3)).is_ok());
        assert!(matches!(
            check_member_change(Group, Some(Member), None, MemberChange::Add(3)),
            Err(Error::Forbidden(_))
        ));
        assert!(
            check_member_change(Group, Some(Admin), Some(Member), MemberChange::Remove(3)).is_ok()
        );
        assert!(matches!(
            check_member_change(Group, Some(Admin), Some(Admin), MemberChange::Remove(3)),
            Err(Error::Forbidden(_))
        ));
        assert!(matches!(
            check_member_change(Group, Some(Admin), Some(Owner), MemberChange::Remove(3)),
            Err(Error::Forbidden(_))
        ));
        assert!(
            check_member_change(Group, Some(Owner), Some(Admin), MemberChange::Remove(3)).is_ok()
        );
        assert!(matches!(
            check_member_change(Group, Some(Admin), Some(Member), MemberChange::Add(3)),
            Err(Error::Conflict(_))
        ));
    }

    #[test]
    fn only_the_owner_changes_roles_and_hands_over() {
        assert!(
            check_member_change(
                Group,
                Some(Owner),
                Some(Member),
                MemberChange::SetRole(3, Admin)
            )
            .is_ok()
        );
        assert!(matches!(
            check_member_change(
                Group,
                Some(Admin),
                Some(Member),
                MemberChange::SetRole(3, Admin)
            ),
            Err(Error::Forbidden(_))
        ));
        assert!(
            check_member_change(
                Group,
                Some(Owner),
                Some(Member),
                MemberChange::TransferOwnership(3)
            )
            .is_ok()
        );
        assert!(matches!(
            check_member_change(
                Group,
                Some(Admin),
                Some(Member),
                MemberChange::TransferOwnership(3)
            ),
            Err(Error::Forbidden(_))
        ));
        assert!(matches!(
            check_member_change(Group, Some(Owner), None, MemberChange::TransferOwnership(3)),
            Err(Error::NotFound(_))
        ));
    }
}
