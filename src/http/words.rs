//! Every sentence of the pages that is not in `i18n::Texts`: each phrase with
//! all its languages side by side, so none can lack one. `{}` marks the value
//! a phrase is filled with.

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
}

pub const PAGE_NOT_FOUND: Phrase = Phrase {
    en: "Page not found",
    fr: "Page introuvable",
};

pub const THERE_IS_NOTHING_AT_THIS_ADDRESS: Phrase = Phrase {
    en: "There is nothing at this address. If you followed a link from your Matrix app, start the login again from the app.",
    fr: "Il n’y a rien à cette adresse. Si vous avez suivi un lien depuis votre application Matrix, recommencez la connexion depuis l’application.",
};

pub const THE_MATRIX_SERVER_OF_IS_NOT: Phrase = Phrase {
    en: "The Matrix server of {} is not answering",
    fr: "Le serveur Matrix de {} ne répond pas",
};

pub const YOUR_LOGIN_IS_KEPT_WHEN_THE: Phrase = Phrase {
    en: "Your login is kept: when the server is back, choose “Try again” to go on from here. If this lasts, your department’s IT support can tell you more.",
    fr: "Votre connexion est conservée : quand le serveur sera de retour, choisissez « Réessayer » pour continuer d’ici. Si cela dure, le support informatique de votre département pourra vous en dire plus.",
};

pub const THE_UNIVERSITY_LOGIN_FOR_IS_NOT: Phrase = Phrase {
    en: "The university login for {} is not available yet",
    fr: "La connexion de l’université pour {} n’est pas encore disponible",
};

pub const THE_BRIDGE_CANNOT_REACH_THIS_DEPARTMENT: Phrase = Phrase {
    en: "The bridge cannot reach this department's login service at the moment. Your login is kept: wait a minute, then choose “Try again” to go on from here. Other departments are not affected.",
    fr: "La passerelle ne joint pas le service de connexion de ce département pour le moment. Votre connexion est conservée : attendez une minute, puis choisissez « Réessayer » pour continuer d’ici. Les autres départements ne sont pas concernés.",
};

pub const THE_UNIVERSITY_LOGIN_CANNOT_BE_CHECKED: Phrase = Phrase {
    en: "The university login cannot be checked yet",
    fr: "La connexion de l’université ne peut pas encore être vérifiée",
};

pub const THE_BRIDGE_HAS_NOT_YET_BEEN: Phrase = Phrase {
    en: "The bridge has not yet been able to load what it needs to check this login. Your login is kept: wait a minute, then reload this page.",
    fr: "La passerelle n’a pas encore pu charger ce qu’il lui faut pour vérifier cette connexion. Votre connexion est conservée : attendez une minute, puis rechargez cette page.",
};

pub const UNKNOWN_DEPARTMENT: Phrase = Phrase {
    en: "Unknown department",
    fr: "Département inconnu",
};

pub const THERE_IS_NO_DEPARTMENT_CALLED_HERE: Phrase = Phrase {
    en: "There is no department called “{}” here. Pick your department from the list instead.",
    fr: "Il n’y a pas de département « {} » ici. Choisissez plutôt votre département dans la liste.",
};

pub const THIS_LOGIN_LINK_IS_NOT_VALID: Phrase = Phrase {
    en: "This login link is not valid",
    fr: "Ce lien de connexion n’est pas valide",
};

pub const THE_APP_THAT_SENT_YOU_HERE: Phrase = Phrase {
    en: "The app that sent you here gave an address to return to that cannot be used ({}). Start the login again from your Matrix app.",
    fr: "L’application qui vous a envoyé ici a donné une adresse de retour inutilisable ({}). Recommencez la connexion depuis votre application Matrix.",
};

pub const YOUR_BROWSER_DID_NOT_KEEP_THE: Phrase = Phrase {
    en: "Your browser did not keep the login cookie",
    fr: "Votre navigateur n’a pas gardé le témoin de connexion",
};

pub const LOGGING_IN_NEEDS_A_COOKIE_FROM: Phrase = Phrase {
    en: "Logging in needs a cookie from this site. Allow cookies for this site, then start the login again from your Matrix app.",
    fr: "La connexion a besoin d’un témoin (cookie) de ce site. Autorisez-les pour ce site, puis recommencez la connexion depuis votre application Matrix.",
};

pub const THIS_LOGIN_HAS_EXPIRED: Phrase = Phrase {
    en: "This login has expired",
    fr: "Cette connexion a expiré",
};

pub const THE_LOGIN_TOOK_TOO_LONG_OR: Phrase = Phrase {
    en: "The login took too long, or this link was already used. Start the login again from your Matrix app.",
    fr: "La connexion a pris trop de temps, ou ce lien a déjà servi. Recommencez la connexion depuis votre application Matrix.",
};

pub const THIS_LOGIN_WAS_STARTED_IN_ANOTHER: Phrase = Phrase {
    en: "This login was started in another browser",
    fr: "Cette connexion a commencé dans un autre navigateur",
};

pub const FOR_YOUR_SAFETY_A_LOGIN_MUST: Phrase = Phrase {
    en: "For your safety a login must finish in the browser where it started. Start the login again from your Matrix app in this browser.",
    fr: "Pour votre sécurité, une connexion doit se terminer dans le navigateur où elle a commencé. Recommencez la connexion depuis votre application Matrix dans ce navigateur.",
};

pub const THIS_STEP_WAS_ALREADY_DONE: Phrase = Phrase {
    en: "This step was already done",
    fr: "Cette étape a déjà été faite",
};

pub const THIS_PAGE_WAS_OPENED_TWICE_OR: Phrase = Phrase {
    en: "This page was opened twice, or the browser went back. Start the login again from your Matrix app.",
    fr: "Cette page a été ouverte deux fois, ou le navigateur est revenu en arrière. Recommencez la connexion depuis votre application Matrix.",
};

pub const ANY_DEPARTMENT_OF_THIS_LOGIN_SERVICE: Phrase = Phrase {
    en: "any department of this login service",
    fr: "un département de ce service de connexion",
};

pub const YOU_ARE_NOT_A_MEMBER_OF: Phrase = Phrase {
    en: "You are not a member of this department",
    fr: "Vous n’êtes pas membre de ce département",
};

pub const THE_UNIVERSITY_LOGIN_SAYS_YOU_DO: Phrase = Phrase {
    en: "The university login says you do not belong to {}, so you cannot use its Matrix server. If you chose the wrong department, start again and pick yours. If you think this is a mistake, contact your department's IT support.",
    fr: "Selon la connexion de l’université, vous n’appartenez pas à {} : vous ne pouvez donc pas utiliser son serveur Matrix. Si vous vous êtes trompé de département, recommencez et choisissez le vôtre. Si c’est une erreur, contactez le support informatique de votre département.",
};

pub const THE_UNIVERSITY_LOGIN_WAS_NOT_COMPLETED: Phrase = Phrase {
    en: "The university login was not completed",
    fr: "La connexion de l’université n’a pas abouti",
};

pub const THE_UNIVERSITY_LOGIN_SERVICE_DID_NOT: Phrase = Phrase {
    en: "The university login service did not log you in (perhaps it was cancelled). Start the login again from your Matrix app.",
    fr: "Le service de connexion de l’université ne vous a pas connecté (peut-être la connexion a-t-elle été annulée). Recommencez depuis votre application Matrix.",
};

pub const THE_UNIVERSITY_LOGIN_SERVICE_IS_NOT: Phrase = Phrase {
    en: "The university login service is not answering",
    fr: "Le service de connexion de l’université ne répond pas",
};

pub const THE_LOGIN_SERVICE_COULD_NOT_BE: Phrase = Phrase {
    en: "The login service could not be reached. Try again in a few minutes.",
    fr: "Le service de connexion est injoignable. Réessayez dans quelques minutes.",
};

pub const THIS_LOGIN_WAS_ALREADY_USED: Phrase = Phrase {
    en: "This login was already used",
    fr: "Cette connexion a déjà servi",
};

pub const THE_ANSWER_FROM_THE_UNIVERSITY_LOGIN: Phrase = Phrase {
    en: "The answer from the university login service was used before. Start the login again from your Matrix app.",
    fr: "La réponse du service de connexion de l’université a déjà été utilisée. Recommencez la connexion depuis votre application Matrix.",
};

pub const THE_LOGIN_SERVICE_IS_VERY_BUSY: Phrase = Phrase {
    en: "The login service is very busy",
    fr: "Le service de connexion est très sollicité",
};

pub const TOO_MANY_UNIVERSITY_LOGINS_ARE_BEING: Phrase = Phrase {
    en: "Too many university logins are being checked at this moment. Wait a few seconds, then reload this page.",
    fr: "Trop de connexions de l’université sont en cours de vérification. Attendez quelques secondes, puis rechargez cette page.",
};

pub const SOMETHING_WENT_WRONG_ON_OUR_SIDE: Phrase = Phrase {
    en: "Something went wrong on our side",
    fr: "Un problème est survenu de notre côté",
};

pub const THE_LOGIN_SERVICE_HAD_AN_INTERNAL: Phrase = Phrase {
    en: "The login service had an internal problem. Try again in a few minutes.",
    fr: "Le service de connexion a eu un problème interne. Réessayez dans quelques minutes.",
};

pub const YOUR_ACCOUNT_CANNOT_BE_SET_UP: Phrase = Phrase {
    en: "Your account cannot be set up",
    fr: "Votre compte ne peut pas être créé",
};

pub const THE_UNIVERSITY_LOGIN_DID_NOT_GIVE: Phrase = Phrase {
    en: "The university login did not give what is needed to create your Matrix account ({}). Contact IT support.",
    fr: "La connexion de l’université n’a pas fourni ce qu’il faut pour créer votre compte Matrix ({}). Contactez le support informatique.",
};

pub const THE_HOMESERVER_DID_NOT_LOG_YOU: Phrase = Phrase {
    en: "The homeserver did not log you in",
    fr: "Le serveur Matrix ne vous a pas connecté",
};

pub const YOUR_DEPARTMENT_S_MATRIX_SERVER_CAME: Phrase = Phrase {
    en: "Your department's Matrix server came back without a login. Start the login again from your Matrix app.",
    fr: "Le serveur Matrix de votre département est revenu sans connexion. Recommencez depuis votre application Matrix.",
};

pub const THE_UNIVERSITY_LOGIN_COULD_NOT_BE: Phrase = Phrase {
    en: "The university login could not be verified",
    fr: "La connexion de l’université n’a pas pu être vérifiée",
};

pub const THE_ANSWER_FROM_THE_UNIVERSITY_LOGIN_2: Phrase = Phrase {
    en: "The answer from the university login service failed our security checks, so you were not logged in. Try again; if it keeps happening, contact IT support.",
    fr: "La réponse du service de connexion de l’université n’a pas passé nos contrôles de sécurité : vous n’avez pas été connecté. Réessayez ; si cela se reproduit, contactez le support informatique.",
};

pub const TOO_MANY_ATTEMPTS: Phrase = Phrase {
    en: "Too many attempts",
    fr: "Trop de tentatives",
};

pub const THERE_IS_NO_DEPARTMENT_CALLED_AT: Phrase = Phrase {
    en: "There is no department called “{}” at this login service. Go back to your Matrix app and choose “University login” to see the list of departments.",
    fr: "Il n’y a pas de département « {} » à ce service de connexion. Revenez à votre application Matrix et choisissez « Connexion de l’université » pour voir la liste des départements.",
};

pub const NO_DEPARTMENT_USES_THIS_E_MAIL: Phrase = Phrase {
    en: "No department uses this e-mail domain",
    fr: "Aucun département n’utilise ce domaine de courriel",
};

pub const NO_DEPARTMENT_HERE_HAS_E_MAIL: Phrase = Phrase {
    en: "No department here has e-mail addresses at “{}”. Go back and pick your department from the list.",
    fr: "Aucun département n’a d’adresses courriel en « {} ». Revenez en arrière et choisissez votre département dans la liste.",
};

pub const YOU_ARE_SIGNED_OUT: Phrase = Phrase {
    en: "You are signed out",
    fr: "Vous êtes déconnecté",
};

pub const YOUR_MATRIX_SESSIONS_FROM_THIS_UNIVERSITY: Phrase = Phrase {
    en: "Your Matrix sessions from this university login have ended.",
    fr: "Vos sessions Matrix ouvertes par cette connexion de l’université sont terminées.",
};

pub const THIS_SIGN_OUT_REQUEST_COULD_NOT: Phrase = Phrase {
    en: "This sign-out request could not be checked",
    fr: "Cette demande de déconnexion n’a pas pu être vérifiée",
};

pub const THE_SIGN_OUT_REQUEST_FROM_THE: Phrase = Phrase {
    en: "The sign-out request from the university login service was refused (it was not correctly signed, was too old, or was already used). Nothing was signed out. If you wanted to sign out, do it again from the university's page.",
    fr: "La demande de déconnexion du service de connexion de l’université a été refusée (mal signée, trop ancienne ou déjà utilisée). Rien n’a été déconnecté. Pour vous déconnecter, recommencez depuis la page de l’université.",
};

pub const TOO_MANY_LOGINS_CAME_FROM_YOUR: Phrase = Phrase {
    en: "Too many logins came from your network in a short time. Wait {}, then start the login again from your Matrix app.",
    fr: "Trop de connexions sont venues de votre réseau en peu de temps. Attendez {}, puis recommencez depuis votre application Matrix.",
};

pub const SECOND: Phrase = Phrase {
    en: "second",
    fr: "seconde",
};

pub const SECONDS: Phrase = Phrase {
    en: "seconds",
    fr: "secondes",
};

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: &[&Phrase] = &[
        &TOO_MANY_LOGINS_CAME_FROM_YOUR,
        &SECOND,
        &SECONDS,
        &PAGE_NOT_FOUND,
        &THERE_IS_NOTHING_AT_THIS_ADDRESS,
        &THE_MATRIX_SERVER_OF_IS_NOT,
        &YOUR_LOGIN_IS_KEPT_WHEN_THE,
        &THE_UNIVERSITY_LOGIN_FOR_IS_NOT,
        &THE_BRIDGE_CANNOT_REACH_THIS_DEPARTMENT,
        &THE_UNIVERSITY_LOGIN_CANNOT_BE_CHECKED,
        &THE_BRIDGE_HAS_NOT_YET_BEEN,
        &UNKNOWN_DEPARTMENT,
        &THERE_IS_NO_DEPARTMENT_CALLED_HERE,
        &THIS_LOGIN_LINK_IS_NOT_VALID,
        &THE_APP_THAT_SENT_YOU_HERE,
        &YOUR_BROWSER_DID_NOT_KEEP_THE,
        &LOGGING_IN_NEEDS_A_COOKIE_FROM,
        &THIS_LOGIN_HAS_EXPIRED,
        &THE_LOGIN_TOOK_TOO_LONG_OR,
        &THIS_LOGIN_WAS_STARTED_IN_ANOTHER,
        &FOR_YOUR_SAFETY_A_LOGIN_MUST,
        &THIS_STEP_WAS_ALREADY_DONE,
        &THIS_PAGE_WAS_OPENED_TWICE_OR,
        &ANY_DEPARTMENT_OF_THIS_LOGIN_SERVICE,
        &YOU_ARE_NOT_A_MEMBER_OF,
        &THE_UNIVERSITY_LOGIN_SAYS_YOU_DO,
        &THE_UNIVERSITY_LOGIN_WAS_NOT_COMPLETED,
        &THE_UNIVERSITY_LOGIN_SERVICE_DID_NOT,
        &THE_UNIVERSITY_LOGIN_SERVICE_IS_NOT,
        &THE_LOGIN_SERVICE_COULD_NOT_BE,
        &THIS_LOGIN_WAS_ALREADY_USED,
        &THE_ANSWER_FROM_THE_UNIVERSITY_LOGIN,
        &THE_LOGIN_SERVICE_IS_VERY_BUSY,
        &TOO_MANY_UNIVERSITY_LOGINS_ARE_BEING,
        &SOMETHING_WENT_WRONG_ON_OUR_SIDE,
        &THE_LOGIN_SERVICE_HAD_AN_INTERNAL,
        &YOUR_ACCOUNT_CANNOT_BE_SET_UP,
        &THE_UNIVERSITY_LOGIN_DID_NOT_GIVE,
        &THE_HOMESERVER_DID_NOT_LOG_YOU,
        &YOUR_DEPARTMENT_S_MATRIX_SERVER_CAME,
        &THE_UNIVERSITY_LOGIN_COULD_NOT_BE,
        &THE_ANSWER_FROM_THE_UNIVERSITY_LOGIN_2,
        &TOO_MANY_ATTEMPTS,
        &THERE_IS_NO_DEPARTMENT_CALLED_AT,
        &NO_DEPARTMENT_USES_THIS_E_MAIL,
        &NO_DEPARTMENT_HERE_HAS_E_MAIL,
        &YOU_ARE_SIGNED_OUT,
        &YOUR_MATRIX_SESSIONS_FROM_THIS_UNIVERSITY,
        &THIS_SIGN_OUT_REQUEST_COULD_NOT,
        &THE_SIGN_OUT_REQUEST_FROM_THE,
    ];

    #[test]
    fn every_phrase_has_every_language_and_the_same_placeholders() {
        for phrase in ALL {
            assert!(
                !phrase.en.trim().is_empty() && !phrase.fr.trim().is_empty(),
                "{}",
                phrase.en
            );
            assert_eq!(
                phrase.en.matches("{}").count(),
                phrase.fr.matches("{}").count(),
                "{}",
                phrase.en
            );
        }
    }
}
