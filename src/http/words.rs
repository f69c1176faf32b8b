//! The words of the pages that are not in `i18n::Texts`: for each page the bridge
//! shows with a title and a message, a [`PageWords`] named for the situation
//! (`EXPIRED`, `WRONG_BROWSER`, …), every language side by side so none can lack
//! one. `{}` marks the value a phrase is filled with. Which error gets which
//! page, and with what status, is the table in `error_pages.rs`.

use super::i18n::Lang;

/// A phrase in every page language.
pub struct Phrase {
    pub en: &'static str,
    pub fr: &'static str,
}

impl Phrase {
    pub fn in_lang(&self, lang: Lang) -> String {
        match lang {
            Lang::En => self.en.to_owned(),
            Lang::Fr => self.fr.to_owned(),
        }
    }

    /// The phrase with its `{}` replaced by `value`.
    pub fn fill(&self, lang: Lang, value: impl std::fmt::Display) -> String {
        self.in_lang(lang).replace("{}", &value.to_string())
    }

    /// Every language's wording, for checks over all of them.
    pub fn languages(&self) -> [(Lang, &'static str); 2] {
        [(Lang::En, self.en), (Lang::Fr, self.fr)]
    }
}

/// The title and the message of one page.
pub struct PageWords {
    pub title: Phrase,
    pub message: Phrase,
}

// A login that failed: `error_pages::login_page` picks one per `FlowError`.

/// The department's homeserver does not answer; the login is kept. `{}`: the department.
pub const HOMESERVER_DOWN: PageWords = PageWords {
    title: Phrase {
        en: "The Matrix server of {} is not answering",
        fr: "Le serveur Matrix de {} ne répond pas",
    },
    message: Phrase {
        en: "Your login is kept: when the server is back, choose “Try again” to go on from here. If this lasts, your department’s IT support can tell you more.",
        fr: "Votre connexion est conservée : quand le serveur sera de retour, choisissez « Réessayer » pour continuer d’ici. Si cela dure, le support informatique de votre département pourra vous en dire plus.",
    },
};

/// The department's IdP cannot take logins yet; the login is kept. `{}`: the department.
pub const IDP_UNAVAILABLE: PageWords = PageWords {
    title: Phrase {
        en: "The university login for {} is not available yet",
        fr: "La connexion de l’université pour {} n’est pas encore disponible",
    },
    message: Phrase {
        en: "The bridge cannot reach this department's login service at the moment. Your login is kept: wait a minute, then choose “Try again” to go on from here. Other departments are not affected.",
        fr: "La passerelle ne joint pas le service de connexion de ce département pour le moment. Votre connexion est conservée : attendez une minute, puis choisissez « Réessayer » pour continuer d’ici. Les autres départements ne sont pas concernés.",
    },
};

/// A SAML answer came before the IdP's metadata loaded.
pub const IDP_METADATA_MISSING: PageWords = PageWords {
    title: Phrase {
        en: "The university login cannot be checked yet",
        fr: "La connexion de l’université ne peut pas encore être vérifiée",
    },
    message: Phrase {
        en: "The bridge has not yet been able to load what it needs to check this login. Your login is kept: wait a minute, then reload this page.",
        fr: "La passerelle n’a pas encore pu charger ce qu’il lui faut pour vérifier cette connexion. Votre connexion est conservée : attendez une minute, puis rechargez cette page.",
    },
};

/// The picker was given a department that does not exist. `{}`: what it was given.
pub const UNKNOWN_DEPARTMENT: PageWords = PageWords {
    title: Phrase {
        en: "Unknown department",
        fr: "Département inconnu",
    },
    message: Phrase {
        en: "There is no department called “{}” here. Pick your department from the list instead.",
        fr: "Il n’y a pas de département « {} » ici. Choisissez plutôt votre département dans la liste.",
    },
};

/// The Matrix client's return address cannot be used. `{}`: why.
pub const BAD_REDIRECT_URL: PageWords = PageWords {
    title: Phrase {
        en: "This login link is not valid",
        fr: "Ce lien de connexion n’est pas valide",
    },
    message: Phrase {
        en: "The app that sent you here gave an address to return to that cannot be used ({}). Start the login again from your Matrix app.",
        fr: "L’application qui vous a envoyé ici a donné une adresse de retour inutilisable ({}). Recommencez la connexion depuis votre application Matrix.",
    },
};

/// The browser did not send the login cookie back.
pub const NO_COOKIE: PageWords = PageWords {
    title: Phrase {
        en: "Your browser did not keep the login cookie",
        fr: "Votre navigateur n’a pas gardé le témoin de connexion",
    },
    message: Phrase {
        en: "Logging in needs a cookie from this site. Allow cookies for this site, then start the login again from your Matrix app.",
        fr: "La connexion a besoin d’un témoin (cookie) de ce site. Autorisez-les pour ce site, puis recommencez la connexion depuis votre application Matrix.",
    },
};

/// The login is unknown, expired or already finished.
pub const EXPIRED: PageWords = PageWords {
    title: Phrase {
        en: "This login has expired",
        fr: "Cette connexion a expiré",
    },
    message: Phrase {
        en: "The login took too long, or this link was already used. Start the login again from your Matrix app.",
        fr: "La connexion a pris trop de temps, ou ce lien a déjà servi. Recommencez la connexion depuis votre application Matrix.",
    },
};

/// The login belongs to another browser.
pub const WRONG_BROWSER: PageWords = PageWords {
    title: Phrase {
        en: "This login was started in another browser",
        fr: "Cette connexion a commencé dans un autre navigateur",
    },
    message: Phrase {
        en: "For your safety a login must finish in the browser where it started. Start the login again from your Matrix app in this browser.",
        fr: "Pour votre sécurité, une connexion doit se terminer dans le navigateur où elle a commencé. Recommencez la connexion depuis votre application Matrix dans ce navigateur.",
    },
};

/// A step of the login came twice, or out of order.
pub const OUT_OF_ORDER: PageWords = PageWords {
    title: Phrase {
        en: "This step was already done",
        fr: "Cette étape a déjà été faite",
    },
    message: Phrase {
        en: "This page was opened twice, or the browser went back. Start the login again from your Matrix app.",
        fr: "Cette page a été ouverte deux fois, ou le navigateur est revenu en arrière. Recommencez la connexion depuis votre application Matrix.",
    },
};

/// The university login says the user is not in the department. `{}`: the department, or [`ANY_DEPARTMENT`].
pub const NOT_A_MEMBER: PageWords = PageWords {
    title: Phrase {
        en: "You are not a member of this department",
        fr: "Vous n’êtes pas membre de ce département",
    },
    message: Phrase {
        en: "The university login says you do not belong to {}, so you cannot use its Matrix server. If you chose the wrong department, start again and pick yours. If you think this is a mistake, contact your department's IT support.",
        fr: "Selon la connexion de l’université, vous n’appartenez pas à {} : vous ne pouvez donc pas utiliser son serveur Matrix. Si vous vous êtes trompé de département, recommencez et choisissez le vôtre. Si c’est une erreur, contactez le support informatique de votre département.",
    },
};

/// The IdP answered without a login (refused or cancelled).
pub const IDP_DENIED: PageWords = PageWords {
    title: Phrase {
        en: "The university login was not completed",
        fr: "La connexion de l’université n’a pas abouti",
    },
    message: Phrase {
        en: "The university login service did not log you in (perhaps it was cancelled). Start the login again from your Matrix app.",
        fr: "Le service de connexion de l’université ne vous a pas connecté (peut-être la connexion a-t-elle été annulée). Recommencez depuis votre application Matrix.",
    },
};

/// The IdP cannot be reached.
pub const IDP_NOT_ANSWERING: PageWords = PageWords {
    title: Phrase {
        en: "The university login service is not answering",
        fr: "Le service de connexion de l’université ne répond pas",
    },
    message: Phrase {
        en: "The login service could not be reached. Try again in a few minutes.",
        fr: "Le service de connexion est injoignable. Réessayez dans quelques minutes.",
    },
};

/// The IdP's answer (a SAML assertion) was used before.
pub const ANSWER_REPLAYED: PageWords = PageWords {
    title: Phrase {
        en: "This login was already used",
        fr: "Cette connexion a déjà servi",
    },
    message: Phrase {
        en: "The answer from the university login service was used before. Start the login again from your Matrix app.",
        fr: "La réponse du service de connexion de l’université a déjà été utilisée. Recommencez la connexion depuis votre application Matrix.",
    },
};

/// The IdP's answer failed the security checks.
pub const ANSWER_UNVERIFIED: PageWords = PageWords {
    title: Phrase {
        en: "The university login could not be verified",
        fr: "La connexion de l’université n’a pas pu être vérifiée",
    },
    message: Phrase {
        en: "The answer from the university login service failed our security checks, so you were not logged in. Try again; if it keeps happening, contact IT support.",
        fr: "La réponse du service de connexion de l’université n’a pas passé nos contrôles de sécurité : vous n’avez pas été connecté. Réessayez ; si cela se reproduit, contactez le support informatique.",
    },
};

/// Too many SAML answers are being verified at once.
pub const TOO_BUSY: PageWords = PageWords {
    title: Phrase {
        en: "The login service is very busy",
        fr: "Le service de connexion est très sollicité",
    },
    message: Phrase {
        en: "Too many university logins are being checked at this moment. Wait a few seconds, then reload this page.",
        fr: "Trop de connexions de l’université sont en cours de vérification. Attendez quelques secondes, puis rechargez cette page.",
    },
};

/// The bridge's own failure (its database, its OpenID Provider).
pub const INTERNAL_PROBLEM: PageWords = PageWords {
    title: Phrase {
        en: "Something went wrong on our side",
        fr: "Un problème est survenu de notre côté",
    },
    message: Phrase {
        en: "The login service had an internal problem. Try again in a few minutes.",
        fr: "Le service de connexion a eu un problème interne. Réessayez dans quelques minutes.",
    },
};

/// No Matrix account can be made from the IdP's claims. `{}`: why.
pub const NO_ACCOUNT: PageWords = PageWords {
    title: Phrase {
        en: "Your account cannot be set up",
        fr: "Votre compte ne peut pas être créé",
    },
    message: Phrase {
        en: "The university login did not give what is needed to create your Matrix account ({}). Contact IT support.",
        fr: "La connexion de l’université n’a pas fourni ce qu’il faut pour créer votre compte Matrix ({}). Contactez le support informatique.",
    },
};

/// A homeserver's authorization request is refused and cannot go back to it. `{}`: why.
pub const BAD_AUTHORIZE_REQUEST: PageWords = PageWords {
    title: Phrase {
        en: "This login request is not valid",
        fr: "Cette demande de connexion n’est pas valide",
    },
    message: Phrase {
        en: "A Matrix server sent an authorization request the bridge cannot accept: {}. Its administrator should check its configuration (`sso-bridge homeserver-config`).",
        fr: "Un serveur Matrix a envoyé une demande d’autorisation que la passerelle ne peut pas accepter : {}. Son administrateur doit vérifier sa configuration (`sso-bridge homeserver-config`).",
    },
};

/// The homeserver gave no usable login token.
pub const NO_LOGIN_FROM_HOMESERVER: PageWords = PageWords {
    title: Phrase {
        en: "The homeserver did not log you in",
        fr: "Le serveur Matrix ne vous a pas connecté",
    },
    message: Phrase {
        en: "Your department's Matrix server came back without a login. Start the login again from your Matrix app.",
        fr: "Le serveur Matrix de votre département est revenu sans connexion. Recommencez depuis votre application Matrix.",
    },
};

// The edge's own pages: `error_pages::EdgePage`.

/// Nothing is served at this address.
pub const NOT_FOUND: PageWords = PageWords {
    title: Phrase {
        en: "Page not found",
        fr: "Page introuvable",
    },
    message: Phrase {
        en: "There is nothing at this address. If you followed a link from your Matrix app, start the login again from the app.",
        fr: "Il n’y a rien à cette adresse. Si vous avez suivi un lien depuis votre application Matrix, recommencez la connexion depuis l’application.",
    },
};

/// A Matrix client's link names a department that does not exist. `{}`: the name.
pub const UNKNOWN_DEPARTMENT_IN_LINK: PageWords = PageWords {
    title: Phrase {
        en: "Unknown department",
        fr: "Département inconnu",
    },
    message: Phrase {
        en: "There is no department called “{}” at this login service. Go back to your Matrix app and choose “University login” to see the list of departments.",
        fr: "Il n’y a pas de département « {} » à ce service de connexion. Revenez à votre application Matrix et choisissez « Connexion de l’université » pour voir la liste des départements.",
    },
};

/// No department has the e-mail domain typed in the picker. `{}`: the domain.
pub const NO_DEPARTMENT_FOR_EMAIL: PageWords = PageWords {
    title: Phrase {
        en: "No department uses this e-mail domain",
        fr: "Aucun département n’utilise ce domaine de courriel",
    },
    message: Phrase {
        en: "No department here has e-mail addresses at “{}”. Go back and pick your department from the list.",
        fr: "Aucun département n’a d’adresses courriel en « {} ». Revenez en arrière et choisissez votre département dans la liste.",
    },
};

/// The per-address limit on logins. `{}`: the wait, with [`SECOND`] or [`SECONDS`].
pub const TOO_MANY_LOGINS: PageWords = PageWords {
    title: Phrase {
        en: "Too many attempts",
        fr: "Trop de tentatives",
    },
    message: Phrase {
        en: "Too many logins came from your network in a short time. Wait {}, then start the login again from your Matrix app.",
        fr: "Trop de connexions sont venues de votre réseau en peu de temps. Attendez {}, puis recommencez depuis votre application Matrix.",
    },
};

/// An IdP-started sign-out that ended here (not a failure).
pub const SIGNED_OUT: PageWords = PageWords {
    title: Phrase {
        en: "You are signed out",
        fr: "Vous êtes déconnecté",
    },
    message: Phrase {
        en: "Your Matrix sessions from this university login have ended.",
        fr: "Vos sessions Matrix ouvertes par cette connexion de l’université sont terminées.",
    },
};

/// An IdP's sign-out request that failed its checks.
pub const SIGN_OUT_REFUSED: PageWords = PageWords {
    title: Phrase {
        en: "This sign-out request could not be checked",
        fr: "Cette demande de déconnexion n’a pas pu être vérifiée",
    },
    message: Phrase {
        en: "The sign-out request from the university login service was refused (it was not correctly signed, was too old, or was already used). Nothing was signed out. If you wanted to sign out, do it again from the university's page.",
        fr: "La demande de déconnexion du service de connexion de l’université a été refusée (mal signée, trop ancienne ou déjà utilisée). Rien n’a été déconnecté. Pour vous déconnecter, recommencez depuis la page de l’université.",
    },
};

/// A form body that cannot be read. `{}`: why.
pub const UNREADABLE_FORM: PageWords = PageWords {
    title: Phrase {
        en: "This form could not be read",
        fr: "Ce formulaire n’a pas pu être lu",
    },
    message: Phrase {
        en: "{}. Go back and try again.",
        fr: "{}. Revenez en arrière et réessayez.",
    },
};

/// A query string that cannot be read. `{}`: why.
pub const INVALID_ADDRESS: PageWords = PageWords {
    title: Phrase {
        en: "This address is not valid",
        fr: "Cette adresse n’est pas valide",
    },
    message: Phrase {
        en: "The address is missing something or has a wrong value ({}). Start again from your Matrix app.",
        fr: "Il manque quelque chose à l’adresse, ou une de ses valeurs est fausse ({}). Recommencez depuis votre application Matrix.",
    },
};

/// Our SAML service provider metadata cannot be produced.
pub const SP_METADATA_UNAVAILABLE: PageWords = PageWords {
    title: Phrase {
        en: "Metadata unavailable",
        fr: "Métadonnées indisponibles",
    },
    message: Phrase {
        en: "The service provider metadata could not be produced; see the bridge's log.",
        fr: "Les métadonnées du fournisseur de services n’ont pas pu être produites ; voir le journal de la passerelle.",
    },
};

// Words that fill a page's `{}`.

/// Fills [`NOT_A_MEMBER`] when no department admits the user.
pub const ANY_DEPARTMENT: Phrase = Phrase {
    en: "any department of this login service",
    fr: "un département de ce service de connexion",
};

/// A wait of one second.
pub const SECOND: Phrase = Phrase {
    en: "second",
    fr: "seconde",
};

/// A wait of several seconds.
pub const SECONDS: Phrase = Phrase {
    en: "seconds",
    fr: "secondes",
};

// Why a login's return address or account cannot be used: fill
// [`BAD_REDIRECT_URL`] and [`NO_ACCOUNT`], in the page's language (the lower
// layers' error kinds, translated at the edge).

/// The client gave no return address.
pub const REDIRECT_MISSING: Phrase = Phrase {
    en: "no address was given",
    fr: "aucune adresse n’a été donnée",
};

/// The return address is not a whole URL.
pub const REDIRECT_MALFORMED: Phrase = Phrase {
    en: "it is not a complete address",
    fr: "ce n’est pas une adresse complète",
};

/// The return address uses a scheme that is never allowed. `{}`: the scheme.
pub const REDIRECT_FORBIDDEN_SCHEME: Phrase = Phrase {
    en: "addresses starting with “{}:” are never allowed",
    fr: "les adresses commençant par « {}: » ne sont jamais acceptées",
};

/// The return address carries a user name or password.
pub const REDIRECT_CREDENTIALS: Phrase = Phrase {
    en: "it contains a user name or password",
    fr: "elle contient un nom d’utilisateur ou un mot de passe",
};

/// The return address names no host.
pub const REDIRECT_NO_HOST: Phrase = Phrase {
    en: "it names no server",
    fr: "elle ne nomme aucun serveur",
};

/// The return address is too long. `{}`: the limit, in characters.
pub const REDIRECT_TOO_LONG: Phrase = Phrase {
    en: "it is longer than {} characters",
    fr: "elle dépasse {} caractères",
};

/// The IdP did not send a claim the user name is made from. `{}`: the claim.
pub const ACCOUNT_CLAIM_MISSING: Phrase = Phrase {
    en: "it did not send “{}”",
    fr: "elle n’a pas envoyé « {} »",
};

/// The department's user-name template cannot be used (an operator's mistake).
pub const ACCOUNT_TEMPLATE_UNUSABLE: Phrase = Phrase {
    en: "this department’s rule for user names cannot be used",
    fr: "la règle des noms d’utilisateur de ce département est inutilisable",
};

/// The user name from the IdP has nothing usable in a Matrix ID. `{}`: the name.
pub const ACCOUNT_NAME_UNUSABLE: Phrase = Phrase {
    en: "the user name “{}” has no character a Matrix ID can use",
    fr: "le nom d’utilisateur « {} » n’a aucun caractère utilisable dans un identifiant Matrix",
};

/// Every suffixed variant of the user name is taken. `{}`: the name.
pub const ACCOUNT_NAMES_TAKEN: Phrase = Phrase {
    en: "no free user name is left near “{}”",
    fr: "il ne reste aucun nom d’utilisateur libre proche de « {} »",
};

#[cfg(test)]
mod tests {
    use super::*;

    const PAGES: &[&PageWords] = &[
        &HOMESERVER_DOWN,
        &IDP_UNAVAILABLE,
        &IDP_METADATA_MISSING,
        &UNKNOWN_DEPARTMENT,
        &BAD_REDIRECT_URL,
        &NO_COOKIE,
        &EXPIRED,
        &WRONG_BROWSER,
        &OUT_OF_ORDER,
        &NOT_A_MEMBER,
        &IDP_DENIED,
        &IDP_NOT_ANSWERING,
        &ANSWER_REPLAYED,
        &ANSWER_UNVERIFIED,
        &TOO_BUSY,
        &INTERNAL_PROBLEM,
        &NO_ACCOUNT,
        &BAD_AUTHORIZE_REQUEST,
        &NO_LOGIN_FROM_HOMESERVER,
        &NOT_FOUND,
        &UNKNOWN_DEPARTMENT_IN_LINK,
        &NO_DEPARTMENT_FOR_EMAIL,
        &TOO_MANY_LOGINS,
        &SIGNED_OUT,
        &SIGN_OUT_REFUSED,
        &UNREADABLE_FORM,
        &INVALID_ADDRESS,
        &SP_METADATA_UNAVAILABLE,
    ];

    const FILLS: &[&Phrase] = &[
        &ANY_DEPARTMENT,
        &SECOND,
        &SECONDS,
        &REDIRECT_MISSING,
        &REDIRECT_MALFORMED,
        &REDIRECT_FORBIDDEN_SCHEME,
        &REDIRECT_CREDENTIALS,
        &REDIRECT_NO_HOST,
        &REDIRECT_TOO_LONG,
        &ACCOUNT_CLAIM_MISSING,
        &ACCOUNT_TEMPLATE_UNUSABLE,
        &ACCOUNT_NAME_UNUSABLE,
        &ACCOUNT_NAMES_TAKEN,
    ];

    fn every_phrase() -> impl Iterator<Item = &'static Phrase> {
        PAGES
            .iter()
            .flat_map(|page| [&page.title, &page.message])
            .chain(FILLS.iter().copied())
    }

    /// The constants of this file declared with `kind`, counted in its source.
    fn declared(kind: &str) -> usize {
        include_str!("words.rs")
            .lines()
            .filter(|line| line.starts_with("pub const ") && line.ends_with(kind))
            .count()
    }

    #[test]
    fn the_lists_above_hold_every_constant() {
        assert_eq!(declared(": PageWords = PageWords {"), PAGES.len());
        assert_eq!(declared(": Phrase = Phrase {"), FILLS.len());
    }

    #[test]
    fn every_phrase_has_every_language_and_the_same_placeholders() {
        for phrase in every_phrase() {
            for (lang, text) in phrase.languages() {
                assert!(!text.trim().is_empty(), "{lang:?} is empty: {}", phrase.en);
                assert_eq!(
                    text.matches("{}").count(),
                    phrase.en.matches("{}").count(),
                    "{lang:?}: {text}"
                );
                // `{}` is the only placeholder `fill` knows.
                assert_eq!(
                    text.matches('{').count(),
                    text.matches("{}").count(),
                    "{text}"
                );
            }
        }
    }
}
